"""Against a real Prefect server on loopback: `bureau-stats serve`, triggering a backfill by API,
the docker-compose commands (work pool, `prefect deploy --all`, a process worker), the CLI, and
the Dask task runner on a two-worker local cluster."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from flow_helpers import REPO, VENV_BIN, PrefectServer, Workdir, new_workdir, run_cli

from tools.ui_pages import deployment as _deployment
from tools.ui_pages import trigger as _trigger
from tools.ui_pages import wait_final as _wait_final

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def _status(w: Workdir, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    done = run_cli(["bureau-stats", "status", "--json"], env)
    assert done.returncode == 0, done.stderr
    return {b["file"]: b for b in json.loads(done.stdout)["batches"]}


@contextmanager
def _serving(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`bureau-stats serve` for the block, stopped as `docker stop` would (SIGTERM)."""
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    serve = subprocess.Popen(
        [str(VENV_BIN / "bureau-stats"), "serve"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield serve
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        log.close()


def test_serve_then_trigger_a_backfill_by_api(
    flow_landing: Path, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    w = new_workdir(flow_landing, tmp_path / "w", ("cases",))
    env = prefect_server.env(**w.env())
    with _serving(env, tmp_path):
        api = prefect_server.api_url
        nightly = _deployment(api, "nightly/nightly")
        schedule = nightly["schedules"][0]["schedule"]
        assert (schedule["cron"], schedule["timezone"]) == ("0 2 * * *", "Asia/Shanghai")
        backfill = _deployment(api, "backfill/backfill")
        run_id = _trigger(
            api, backfill["id"], {"start": "2024-01-01", "end": "2024-02-29", "sources": ["cases"]}
        )
        run = _wait_final(api, run_id)
        assert run["state"]["type"] == "COMPLETED", run["state"]
        assert run["parameters"]["sources"] == ["cases"]
        assert run["name"] == "backfill 2024-01-01..2024-02-29 [cases]"
    ledger = _status(w, env)
    assert sorted(ledger) == [
        "cases/行政处罚案件_20240101-20240131.xlsx",
        "cases/行政处罚案件_20240201-20240229.xlsx",
    ]
    assert {b["status"] for b in ledger.values()} == {"published"}


def test_served_nightly_names_a_missing_month_and_the_event_reaches_the_feed(
    flow_landing: Path, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    """Issue 21: a served nightly over a landing lacking March of medical_device; its name, the
    summary's overdue section, the event in the API's event feed, the project's log lines in the
    run's log; a backfill given an unknown source refused with the valid names."""
    from connectors.cadence import bureau_today
    from connectors.sources import SOURCES

    w = new_workdir(flow_landing, tmp_path / "w", ("medical_device",))
    (w.landing / "medical_device" / "医疗器械经营许可_20240301-20240331.csv").unlink()
    env = prefect_server.env(**w.env())
    api = prefect_server.api_url
    with _serving(env, tmp_path):
        # the server checks the deployment's parameter schema: no flow run is even created
        backfill_id = _deployment(api, "backfill/backfill")["id"]
        refused = httpx.post(
            f"{api}/deployments/{backfill_id}/create_flow_run",
            json={
                "parameters": {
                    "start": "2024-01-01",
                    "end": "2024-01-31",
                    "sources": ["registratoin"],
                }
            },
            timeout=10,
        )
        assert refused.status_code == 409, refused.text
        assert "registratoin" in refused.text and all(n in refused.text for n in SOURCES)
        run_id = _trigger(api, _deployment(api, "nightly/nightly")["id"], {})
        run = _wait_final(api, run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert run["name"] == f"nightly {bureau_today().isoformat()}"
    artifacts = httpx.post(
        f"{api}/artifacts/filter",
        json={
            "artifacts": {"flow_run_id": {"any_": [run_id]}, "key": {"any_": ["nightly-summary"]}}
        },
        timeout=10,
    ).json()
    summary = artifacts[0]["data"]
    assert "| medical_device | 2024-03-01..2024-03-31 | 2024-04-10 |" in summary
    events = httpx.post(
        f"{api}/events/filter",
        json={
            "filter": {
                "event": {"name": ["bureau-stats.delivery.overdue"]},
                "related": {"id": [f"prefect.flow-run.{run_id}"]},
            },
            "limit": 50,
        },
        timeout=10,
    ).json()["events"]
    assert [e["resource"]["prefect.resource.id"] for e in events] == [
        "bureau-stats.source.medical_device"
    ]
    logs = httpx.post(
        f"{api}/logs/filter",
        json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200},
        timeout=10,
    ).json()
    assert any(entry["name"] == "warehouse.publish" for entry in logs)


def test_compose_commands_deploy_and_a_worker_runs_the_nightly(
    flow_landing: Path, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    w = new_workdir(flow_landing, tmp_path / "w", ("ip_cases",))
    env = prefect_server.env(**w.env())
    api = prefect_server.api_url

    deploy = subprocess.run(
        compose["services"]["deploy"]["command"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    pool = httpx.get(f"{api}/work_pools/bureau-stats", timeout=10).json()
    assert pool["type"] == "process"
    for name in ("nightly/nightly", "backfill/backfill", "annual-report/annual-report"):
        assert _deployment(api, name)["work_pool_name"] == "bureau-stats"

    run_id = _trigger(api, _deployment(api, "nightly/nightly")["id"], {})
    worker = subprocess.run(
        [
            str(VENV_BIN / c) if i == 0 else c
            for i, c in enumerate(compose["services"]["worker"]["command"])
        ]
        + ["--run-once"],
        env=env,
        cwd=tmp_path,  # the deployment's pull step takes it to the project
        capture_output=True,
        text=True,
        timeout=300,
    )
    run = _wait_final(api, run_id)
    assert run["state"]["type"] == "COMPLETED", worker.stdout[-3000:] + worker.stderr[-3000:]
    ledger = _status(w, env)
    assert len(ledger) == 4 and {b["status"] for b in ledger.values()} == {"published"}


def test_backfill_cli_dry_run_run_and_busy(
    flow_landing: Path, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    w = new_workdir(flow_landing, tmp_path / "w", ("medical_device",))
    env = prefect_server.env(**w.env())
    args = ["bureau-stats", "backfill", "--start", "2024-01-15", "--end", "2024-02-10"]

    dry = run_cli([*args, "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    assert "医疗器械经营许可_20240101-20240131.csv" in dry.stdout and "publish" in dry.stdout
    assert "metrics and report refreshed for: 2024" in dry.stdout
    planned = json.loads(run_cli([*args, "--dry-run", "--json"], env).stdout)
    assert [f["action"] for f in planned["files"]] == ["publish", "publish"]
    assert not (w.root / "warehouse.db").exists() or _status(w, env) == {}

    done = run_cli(args, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 published" in done.stdout
    assert set(_status(w, env)) == {f["file"] for f in planned["files"]}

    # another run holds the lease of the source: refused with who and since when (exit 3)
    from tasks.context import dispose_engines, settings_for, warehouse
    from warehouse.leases import acquire_source_locks

    holder = "0b7e3c0e-1111-4222-8333-444455556666@elsewhere:1"
    lease = acquire_source_locks(
        warehouse(settings_for({"warehouse_url": w.warehouse_url})), ["medical_device"], holder
    )
    try:
        busy = run_cli([*args, "--force"], env)
    finally:
        lease.release()
        dispose_engines()
    assert busy.returncode == 3, busy.stdout + busy.stderr
    assert "0b7e3c0e-1111-4222-8333-444455556666" in busy.stderr and "since" in busy.stderr
    # one line says it all: no traceback, no Prefect record of the failed lock task or run
    assert "Traceback" not in busy.stderr and "SourcesBusy" not in busy.stderr, busy.stderr
    refusals = [line for line in busy.stderr.splitlines() if "0b7e3c0e" in line]
    assert len(refusals) == 1 and refusals[0].startswith("error: backfill refused"), busy.stderr
    assert "--wait" in refusals[0] and "+08:00" in refusals[0]


@pytest.mark.postgres
def test_dask_runner_on_two_workers_gives_the_same_results(
    flow_landing: Path, prefect_server: PrefectServer, tmp_path: Path, pg_url: str
) -> None:
    """Production-like: Dask worker processes publishing into PostgreSQL, compared with threads."""
    import uuid

    from sqlalchemy import create_engine, text

    sources = ("cases", "ip_cases", "medical_device")
    code = "from flows.nightly import run_nightly; r = run_nightly(); print(r.headline())"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    schemas = {runner: f"flows_{runner}_{uuid.uuid4().hex[:8]}" for runner in ("thread", "dask")}
    results = {}
    try:
        for runner, schema in schemas.items():
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            w = new_workdir(flow_landing, tmp_path / runner, sources)
            env = prefect_server.env(
                **{
                    **w.env(),
                    "BUREAU_STATS_TASK_RUNNER": runner,
                    "BUREAU_STATS_WAREHOUSE_URL": f"{pg_url}?options=-csearch_path%3D{schema}",
                }
            )
            done = run_cli([str(VENV_BIN / "python"), "-c", code], env, timeout=600)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
            assert "28 published" in done.stdout, done.stdout + done.stderr[-4000:]
            if runner == "dask":
                assert "LocalCluster" in done.stderr
            results[runner] = {
                f: {k: v for k, v in b.items() if k != "first_seen_at"}
                for f, b in _status(w, env).items()
            }
    finally:
        with admin.connect() as conn:
            for schema in schemas.values():
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    assert results["dask"] == results["thread"]
    assert len(results["dask"]) == 28
