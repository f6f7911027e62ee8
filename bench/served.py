"""The deployment path, served against a real Prefect server, beside the in-process path and a
raw COPY of the same rows: the same generated year, the same benchmark run, each into its own
fresh PostgreSQL database.

    .venv/bin/python -m bench.served --scales 10,30 [--profile workbook-heavy] [--data var/bench]
        [--runs 3] [--readers 2] [--json bench/results.json] [--skip-copy]

Per scale of the year in that volume profile (demo_data.profiles), in this order:
- `in_process`: `bureau-stats run --in-process --no-docs` (the run model's in-process
  executor: load, then refresh the metrics mart and render the report), wall time of the
  command; peak RSS of the command's process and the reader process it starts;
- `served`: `prefect server start` on 127.0.0.1:<free port> with its own PREFECT_HOME,
  `bureau-stats serve` (the three deployments), the nightly deployment triggered through the
  API (`build_docs=false`), waited for: the flow run's duration as the server records it
  (start to end), and the wall time from the trigger to the final state; peak RSS of the
  processes `serve` started for the flow run (the flow run and its reader) and of `serve`;
- `copy`: `bench.baselines copy` (the accepted rows COPYed into bare tables; extraction not
  timed), the physical limit the marginal throughput is compared with.
Both ledgers are then compared (statuses and row accounting per file must be equal).
With `--runs N` there are N rounds, each running every path (and the COPY) at every scale, and
the median run per path and scale is kept (`median_run`; its peak RSS is the largest of the
N): on two noisy cores one run's wall time moves by 10–20 %, and a marginal is the difference
of two of them.
`--readers N` runs both paths with BUREAU_STATS_READERS=N (without it: the setting's default),
stored apart. The result is merged into the results JSON under `served_profiles.<profile>`
(with `--readers 1`: `served_profiles.<profile>, 1 reader`); render
bench/results.md with `python -m bench.report bench/results.json > bench/results.md`.
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
from functools import cache
from pathlib import Path
from typing import Any

from bench.run import BIN, REPO, Database, baseline_runs, landing_for, loadavg, log
from bench.stages import TreeRss, descendants

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
QUIET_WINDOW = 2.0  # seconds
QUIET_CORES = 0.1  # the server and `serve` together, before the flow run is triggered
RETRIED = {429, 502, 503}


def _env(landing: Path, url: str, var: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BUREAU_STATS_"))}
    if readers := os.environ.get("BUREAU_STATS_READERS"):  # `--readers`; else the default
        env.update(BUREAU_STATS_READERS=readers)
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


def default_readers() -> int:
    """BUREAU_STATS_READERS's default (what a run without the variable uses)."""
    from bureau_stats.settings import Settings

    return int(Settings.model_fields["readers"].default)


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
        out, err = (open(work / name, "w+") for name in ("inproc.json", "inproc.log"))  # noqa: SIM115
        t0 = time.perf_counter()
        with out, err:
            command = subprocess.Popen(
                [str(BIN / "bureau-stats"), "run", "--in-process", "--no-docs", "--json"],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=err,
                text=True,
            )
            with TreeRss(command.pid) as rss:
                code = command.wait()
            wall = time.perf_counter() - t0
            if code not in (0, 1):
                err.seek(0)
                raise RuntimeError(f"run --in-process failed:\n{err.read()[-3000:]}")
            out.seek(0)
            doc = json.load(out)
        return {
            "wall_seconds": round(wall, 2),
            "files": len(doc["files"]),
            "rows_read": sum(f["rows_read"] for f in doc["files"]),
            "reports": len(doc["reports"]),
            **rss.mib(),
            "ledger": _ledger(env),
            "load_after": loadavg(),
        }
    finally:
        db.drop()


@cache
def _client() -> Any:
    """One HTTP client for every request: `httpx.request` builds a client per call, and its
    TLS context (the CA bundle loaded, even for plain http) cost this process 1.3-2.6
    CPU-seconds per served run at two polls a second, taken from the run it measures."""
    import httpx

    return httpx.Client(timeout=30)


def _http(method: str, url: str, **kw: Any) -> Any:
    for attempt in range(6):
        r = _client().request(method, url, **kw)
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


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) of processes and all their live descendants, from /proc."""
    total = 0.0
    for pid in {*pids, *(child for root in pids for child in descendants(root))}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wait_quiet(
    pids: list[int],
    *,
    window: float = QUIET_WINDOW,
    cores: float = QUIET_CORES,
    timeout: float = 180,
    cpu: Any = cpu_seconds,
    sleep: Any = time.sleep,
) -> float:
    """Wait until the processes use less than `cores` of CPU over `window` seconds; returns
    the seconds waited. A fresh `prefect server` keeps migrating its database and running its
    services' first loops for a while after it answers: measured from the trigger, that work
    (15-40 CPU-seconds here, varying from run to run) would compete with the flow run on two
    cores and be counted in its time."""
    waited = 0.0
    before = cpu(pids)
    while waited < timeout:
        sleep(window)
        waited += window
        now = cpu(pids)
        if now - before < cores * window:
            return waited
        before = now
    raise TimeoutError(f"processes {pids} still busy after {timeout:.0f} s")


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
        settled = wait_quiet([server.pid, serve.pid])
        t0 = time.perf_counter()
        with TreeRss(serve.pid) as rss:
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
        # serve's children are the flow run's process and its reader: the run's own memory.
        peaks = rss.mib()
        return {
            "state": done["state"]["type"],
            "flow_run_seconds": round(_seconds(done), 2),
            "settle_seconds": settled,
            "trigger_to_final_seconds": round(wall, 2),
            "peak_rss_mib": peaks["peak_rss_children_mib"],
            "peak_rss_serve_mib": peaks["peak_rss_root_mib"],
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


def median_run(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The run with the median `key` (the upper one of an even count), with every run's `key`
    under `<key>_runs` and the largest peak RSS of them all."""
    ordered = sorted(runs, key=lambda r: float(r[key]))
    chosen = dict(ordered[len(ordered) // 2])
    if len(runs) > 1:
        chosen[f"{key}_runs"] = [r[key] for r in runs]
        for name in {k for r in runs for k in r if k.startswith("peak_rss")}:
            chosen[name] = max(float(r.get(name, 0.0)) for r in runs)
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="10,30")
    parser.add_argument("--data", default=str(REPO / "var" / "bench"), help="generated years")
    parser.add_argument("--json", default=str(REPO / "bench" / "results.json"))
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--profile", default="demo", help="volume profile of the generated year")
    parser.add_argument("--skip-copy", action="store_true", help="no COPY baseline")
    parser.add_argument("--runs", type=int, default=1, help="runs per path and scale (median)")
    parser.add_argument(
        "--readers", type=int, help="BUREAU_STATS_READERS of both paths (default: its default)"
    )
    args = parser.parse_args(argv)
    os.environ.pop("BUREAU_STATS_READERS", None)
    if args.readers is not None:
        os.environ["BUREAU_STATS_READERS"] = str(args.readers)
    readers = args.readers or default_readers()
    runs = max(1, args.runs)
    os.environ.setdefault("BUREAU_STATS_PII_KEY", "bench-pii-key")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    started = time.time()
    out: dict[str, Any] = {
        "command": "python -m bench.served " + " ".join(argv or sys.argv[1:]),
        "profile": args.profile,
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_before": loadavg(),
        "runs": runs,
        "readers": readers,
        "scales": {},
    }
    scales = [float(label) for label in args.scales.split(",")]
    years = {scale: landing_for(scale, Path(args.data), args.profile) for scale in scales}
    locals_: dict[float, list[dict[str, Any]]] = {scale: [] for scale in scales}
    remotes: dict[float, list[dict[str, Any]]] = {scale: [] for scale in scales}
    copies: dict[float, list[dict[str, Any]]] = {scale: [] for scale in scales}
    same = dict.fromkeys(scales, True)
    # Round by round, every scale in each round: a drift of the machine's speed (seen here
    # within minutes) then lands on both ends of the marginal instead of on one of them.
    for i in range(runs):
        for scale in scales:
            landing = years[scale][0]
            work = Path(args.data) / f"served-{args.profile}-{scale:g}"
            work.mkdir(parents=True, exist_ok=True)
            what = f"{args.profile} scale {scale:g} (round {i + 1}/{runs})"
            log(f"{what}: in-process run")
            local = {"round": i + 1, **in_process(landing, work)}
            log(f"{what}: served nightly deployment")
            remote = {"round": i + 1, **served(landing, work, args.timeout)}
            same[scale] = same[scale] and local.pop("ledger") == remote.pop("ledger")
            locals_[scale].append(local)
            remotes[scale].append(remote)
            if not args.skip_copy:
                log(f"{what}: raw COPY of the same rows")
                copies[scale].extend(
                    {"round": i + 1, **r} for r in baseline_runs(landing, 1, "copy")
                )
    for scale in scales:
        row: dict[str, Any] = {
            "landing": years[scale][1],
            "in_process": median_run(locals_[scale], "wall_seconds"),
            "served": median_run(remotes[scale], "flow_run_seconds"),
            "same_ledger": same[scale],
        }
        if copies[scale]:
            row["copy"] = median_run(copies[scale], "copy_seconds")
        out["scales"][f"{scale:g}"] = row
        log(f"{args.profile} scale {scale:g}: {json.dumps(row)}")
    out["load_after"] = loadavg()
    out["minutes"] = round((time.time() - started) / 60, 1)
    path = Path(args.json)
    doc = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    name = args.profile
    if args.readers is not None:
        name += f", {args.readers} reader{'' if args.readers == 1 else 's'}"
    doc.setdefault("served_profiles", {})[name] = out
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
