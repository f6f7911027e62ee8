"""Against a real Prefect server on loopback: `bureau-stats serve`, triggering a backfill by API,
the docker-compose commands (work pool, `prefect deploy --all`, a process worker), the CLI, and
the Dask task runner on a two-worker local cluster."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from flow_helpers import REPO, VENV_BIN, PrefectServer, Workdir, new_workdir, run_cli

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _deployment(api: str, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{api}/deployments/name/{name}", timeout=10)
        if r.status_code == 200:
            return dict(r.json())
        time.sleep(1)
    raise TimeoutError(f"deployment {name} did not appear")


# What Prefect's own client retries: the server answers 503 when its database is busy (here
# while `serve` is still writing its deployments and schedules); nothing was created then.
RETRIED = {429, 502, 503}


def _trigger(api: str, deployment_id: str, parameters: dict[str, Any]) -> str:
    for attempt in range(5):
        r = httpx.post(
            f"{api}/deployments/{deployment_id}/create_flow_run",
            json={"parameters": parameters},
            timeout=10,
        )
        if r.status_code not in RETRIED:
            break
        time.sleep(2**attempt)
    r.raise_for_status()
    return str(r.json()["id"])


def _wait_final(api: str, flow_run_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=10).json()
        if run["state"] and run["state"]["type"] in FINAL:
            return dict(run)
        time.sleep(1)
    raise TimeoutError(f"flow run {flow_run_id} not finished after {timeout} s")


def _status(w: Workdir, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    done = run_cli(["bureau-stats", "status", "--json"], env)
    assert done.returncode == 0, done.stderr
    return {b["file"]: b for b in json.loads(done.stdout)["batches"]}


def test_serve_then_trigger_a_backfill_by_api(
    flow_landing: Path, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    w = new_workdir(flow_landing, tmp_path / "w", ("cases",))
    env = prefect_server.env(**w.env())
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    serve = subprocess.Popen(
        [str(VENV_BIN / "bureau-stats"), "serve"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
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
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        log.close()
    ledger = _status(w, env)
    assert sorted(ledger) == [
        "cases/行政处罚案件_20240101-20240131.xlsx",
        "cases/行政处罚案件_20240201-20240229.xlsx",
    ]
    assert {b["status"] for b in ledger.values()} == {"published"}


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
    from warehouse.publish import acquire_source_locks

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
