"""The deployment path, served against a real Prefect server, beside the in-process path: the
same generated year, the same benchmark run, each into its own fresh PostgreSQL database.

    .venv/bin/python -m bench.served --scales 10,30 [--data var/bench] [--json bench/results.json]

Per scale, in this order:
- `in_process`: `bureau-stats run --in-process --no-docs` (the run model's in-process
  executor: load, then refresh the metrics mart and render the report), wall time of the
  command;
- `served`: `prefect server start` on 127.0.0.1:<free port> with its own PREFECT_HOME,
  `bureau-stats serve` (the three deployments), the nightly deployment triggered through the
  API (`build_docs=false`), waited for: the flow run's duration as the server records it
  (start to end), and the wall time from the trigger to the final state.
Both ledgers are then compared (statuses and row accounting per file must be equal).
The result is merged into the results JSON under `served` and bench/results.md re-rendered.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.run import BIN, REPO, Database, landing_for, loadavg, log

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
RETRIED = {429, 502, 503}


def _env(landing: Path, url: str, var: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BUREAU_STATS_"))}
    env.update(
        BUREAU_STATS_PII_KEY=os.environ.get("BUREAU_STATS_PII_KEY", "bench-pii-key"),
        BUREAU_STATS_LANDING=str(landing),
        BUREAU_STATS_WAREHOUSE_URL=url,
        BUREAU_STATS_VAR_DIR=str(var),
        BUREAU_STATS_TASK_RUNNER="thread",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        GX_ANALYTICS_ENABLED="false",
    )
    env.update(extra)
    return env


def _ledger(env: dict[str, str]) -> dict[str, tuple[Any, ...]]:
    done = subprocess.run(
        [str(BIN / "bureau-stats"), "status", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    keys = ("status", "rows_read", "rows_accepted", "rows_rejected", "rows_duplicate")
    return {b["file"]: tuple(b[k] for k in keys) for b in json.loads(done.stdout)["batches"]}


def in_process(landing: Path, work: Path) -> dict[str, Any]:
    db = Database("inproc")
    try:
        env = _env(landing, db.url, work / "var-inproc")
        t0 = time.perf_counter()
        done = subprocess.run(
            [str(BIN / "bureau-stats"), "run", "--in-process", "--no-docs", "--json"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        if done.returncode not in (0, 1):
            raise RuntimeError(f"run --in-process failed:\n{done.stderr[-3000:]}")
        doc = json.loads(done.stdout)
        return {
            "wall_seconds": round(wall, 2),
            "files": len(doc["files"]),
            "rows_read": sum(f["rows_read"] for f in doc["files"]),
            "reports": len(doc["reports"]),
            "ledger": _ledger(env),
            "load_after": loadavg(),
        }
    finally:
        db.drop()


def _http(method: str, url: str, **kw: Any) -> Any:
    import httpx

    for attempt in range(6):
        r = httpx.request(method, url, timeout=30, **kw)
        if r.status_code not in RETRIED:
            break
        time.sleep(2**attempt)
    r.raise_for_status()
    return r.json()


def _wait(what: str, probe: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = probe()
        except Exception:
            got = None
        if got:
            return got
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seconds(run: dict[str, Any]) -> float:
    """The flow run's duration as the server records it (start to end)."""
    start, end = (datetime.fromisoformat(run[k]) for k in ("start_time", "end_time"))
    return (end - start).total_seconds()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def served(landing: Path, work: Path, timeout: float) -> dict[str, Any]:
    db = Database("served")
    home = work / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = _env(landing, db.url, work / "var-served", PREFECT_HOME=str(home))
    logs = [open(work / name, "wb") for name in ("server.log", "serve.log")]  # noqa: SIM115
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    serve = None
    try:
        env["PREFECT_API_URL"] = api
        _wait("prefect server", lambda: _http("GET", f"{api}/health") is not None, 180)
        serve = subprocess.Popen(
            [str(BIN / "bureau-stats"), "serve"],
            env=env,
            cwd=REPO,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        )
        deployment = _wait(
            "nightly deployment",
            lambda: _http("GET", f"{api}/deployments/name/nightly/nightly"),
            180,
        )
        t0 = time.perf_counter()
        run = _http(
            "POST",
            f"{api}/deployments/{deployment['id']}/create_flow_run",
            json={"parameters": {"build_docs": False}},
        )

        def final() -> Any:
            got = _http("GET", f"{api}/flow_runs/{run['id']}")
            return got if got["state"] and got["state"]["type"] in FINAL else None

        done = _wait("nightly flow run", final, timeout)
        wall = time.perf_counter() - t0
        return {
            "state": done["state"]["type"],
            "flow_run_seconds": round(_seconds(done), 2),
            "trigger_to_final_seconds": round(wall, 2),
            "ledger": _ledger(env),
            "load_after": loadavg(),
        }
    finally:
        if serve is not None:
            _stop(serve)
        _stop(server)
        for f in logs:
            f.close()
        db.drop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="10,30")
    parser.add_argument("--data", default=str(REPO / "var" / "bench"), help="generated years")
    parser.add_argument("--json", default=str(REPO / "bench" / "results.json"))
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {
        "command": "python -m bench.served " + " ".join(argv or sys.argv[1:]),
        "load_before": loadavg(),
        "scales": {},
    }
    for label in args.scales.split(","):
        scale = float(label)
        landing, info = landing_for(scale, Path(args.data))
        work = Path(args.data) / f"served-{scale:g}"
        work.mkdir(parents=True, exist_ok=True)
        log(f"scale {scale:g}: in-process run")
        local = in_process(landing, work)
        log(f"scale {scale:g}: served nightly deployment")
        remote = served(landing, work, args.timeout)
        same = local.pop("ledger") == remote.pop("ledger")
        out["scales"][f"{scale:g}"] = {
            "landing": info,
            "in_process": local,
            "served": remote,
            "same_ledger": same,
        }
        log(f"scale {scale:g}: {json.dumps(out['scales'][f'{scale:g}'])}")
    path = Path(args.json)
    doc = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    doc["served"] = out
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
