"""What an operator waits for when the nightly run finds nothing new.

    .venv/bin/python -m bench.nightly --landing DIR --warehouse URL [--runs 3]

The landing area must already be loaded into the warehouse (`bench.run` does that first), so
every file is `skipped`. Measured, each in a fresh process, `--runs` times:

- `cli_in_process`: `bureau-stats run --in-process --no-docs` (the plain-function pipeline, no
  Prefect), wall time from the shell;
- `cli_flow_ephemeral`: `bureau-stats run --flow --no-docs` with no PREFECT_API_URL, i.e. the
  nightly flow in Prefect's ephemeral mode (Prefect starts a temporary API server inside the
  process); `empty_flow_ephemeral` is a flow that does nothing, started the same way: Prefect's
  own cost, so the difference is ours; `flow_ephemeral_call` is the flow call alone, timed
  inside the process;
- `flow_served_run`: the nightly flow against a running Prefect server (started here on a free
  loopback port with its own PREFECT_HOME, stopped afterwards): the flow run's duration as the
  server records it (start to end); `cli_served` is `bureau-stats run --no-docs` against that
  server (wall time of the command).

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

NIGHTLY = """
import json, time
t0 = time.perf_counter()
from flows.nightly import nightly
t1 = time.perf_counter()
state = nightly(build_docs=False, return_state=True)
t2 = time.perf_counter()
out = {"import_seconds": t1 - t0, "call_seconds": t2 - t1, "state": state.type.value,
       "message": state.message}
try:
    from prefect.client.orchestration import get_client
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        out["flow_run_seconds"] = (run.end_time - run.start_time).total_seconds()
except Exception as exc:  # ephemeral server already gone
    out["flow_run_error"] = type(exc).__name__
print("BENCH " + json.dumps(out))
"""

EMPTY_FLOW = """
from prefect import flow

@flow(name="empty")
def empty() -> int:
    return 1

empty()
"""


def _env(landing: str, warehouse: str, home: Path, api_url: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PREFECT_") or k == "PREFECT_SERVER_ANALYTICS_ENABLED"
    }
    env.update(
        BUREAU_STATS_LANDING=landing,
        BUREAU_STATS_WAREHOUSE_URL=warehouse,
        BUREAU_STATS_VAR_DIR=str(home / "var"),
        BUREAU_STATS_PII_KEY=os.environ.get("BUREAU_STATS_PII_KEY", "bench-pii-key"),
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        GX_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    return time.perf_counter() - t0, done


def _cli(cmd: list[str], env: dict[str, str]) -> float:
    seconds, done = _timed(cmd, env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds


def _bench_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            return dict(json.loads(line[6:]))
    raise RuntimeError(f"no result (exit {done.returncode}): {done.stderr[-2000:]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """A Prefect server of our own on loopback; yields its API URL, stops it afterwards."""
    import httpx

    port = _free_port()
    env = _env("", "", home, None)
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Prefect server did not start, see {home / 'server.log'}")
            time.sleep(0.5)
        yield api
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # our own process group only
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        log.close()


def measure(landing: str, warehouse: str, runs: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="bench-nightly-"))
    (home / "prefect").mkdir()
    py = str(BIN / "python")
    out: dict[str, Any] = {"runs": runs}
    env = _env(landing, warehouse, home, None)

    cli = [str(BIN / "bureau-stats"), "run", "--no-docs"]
    out["cli_in_process"] = [_cli(cli + ["--in-process"], env) for _ in range(runs)]

    # The first use of a PREFECT_HOME creates Prefect's database: once per installation,
    # not every night, so it is done before timing.
    _timed([py, "-c", EMPTY_FLOW], env)
    empty: list[float] = []
    ephemeral: list[float] = []
    ours: list[float] = []
    for _ in range(runs):
        seconds, done = _timed([py, "-c", EMPTY_FLOW], env)
        if done.returncode != 0:
            raise RuntimeError(f"empty flow failed: {done.stderr[-2000:]}")
        empty.append(seconds)
        ephemeral.append(_cli(cli + ["--flow"], env))
        result = _bench_json(_timed([py, "-c", NIGHTLY], env)[1])
        if result["state"] != "COMPLETED":
            raise RuntimeError(f"nightly flow ended {result['state']}: {result.get('message')}")
        ours.append(result["call_seconds"])
    out["empty_flow_ephemeral"] = empty
    out["cli_flow_ephemeral"] = ephemeral
    out["flow_ephemeral_call"] = ours

    with prefect_server(home) as api:
        served = _env(landing, warehouse, home, api)
        flow_s: list[float] = []
        wall: list[float] = []
        for _ in range(runs):
            result = _bench_json(_timed([py, "-c", NIGHTLY], served)[1])
            if result["state"] != "COMPLETED":
                raise RuntimeError(f"served nightly ended {result['state']}")
            flow_s.append(result["flow_run_seconds"])
            wall.append(_cli(cli, served))
    out["flow_served_run"] = flow_s
    out["cli_served"] = wall
    out["medians"] = {
        k: round(statistics.median(v), 2) for k, v in out.items() if isinstance(v, list)
    }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--landing", required=True)
    parser.add_argument("--warehouse", required=True, help="a warehouse that holds the landing")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    return measure(args.landing, args.warehouse, args.runs)


if __name__ == "__main__":
    print(json.dumps(main()))
