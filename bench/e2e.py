"""One end-to-end run over a landing area, timed by stage: the worker `bench.run` starts.

    .venv/bin/python -m bench.e2e --landing DIR --warehouse URL [--var DIR] [--year 2024]

What `bureau-stats run` does on an empty warehouse (a full-year backfill), as plain functions
(`flows.run.ingest`: discover, hash, ledger, read, validate, publish), then the
year's metrics mart (`metrics.mart.refresh_mart`) and the Data Docs. Prints one JSON document:
rows, seconds and peak RSS per stage, the process's peak RSS, and the outcome counts. Run it in
a fresh process per measurement, so the peak RSS is this run's alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path

T_PROCESS = time.perf_counter()  # before the heavy imports: start-up is part of the run


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--landing", required=True)
    parser.add_argument("--warehouse", required=True, help="SQLAlchemy URL (empty warehouse)")
    parser.add_argument("--var", default=None, help="working folder (Data Docs); default a temp")
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--no-docs", action="store_true", help="skip building Data Docs")
    parser.add_argument(
        "--read-ahead", default="process", choices=["process", "thread"], help="see settings"
    )
    parser.add_argument(
        "--sql-profile", action="store_true", help="also report the slowest statement kinds"
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("BUREAU_STATS_PII_KEY", "bench-pii-key")
    for k in ("GX_ANALYTICS_ENABLED", "PREFECT_SERVER_ANALYTICS_ENABLED"):
        os.environ.setdefault(k, "false")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    import tempfile

    from bench.stages import StageClock, peak_rss_bytes
    from bureau_stats.settings import load_settings
    from flows.run import ingest
    from metrics.mart import refresh_mart
    from warehouse.engine import open_warehouse

    var = Path(args.var or tempfile.mkdtemp(prefix="bench-var-"))
    settings = load_settings(
        landing=args.landing, warehouse_url=args.warehouse, var_dir=var, read_ahead=args.read_ahead
    )
    t_imports = time.perf_counter() - T_PROCESS
    t0 = time.perf_counter()
    with StageClock() as clock:
        with clock.stage("ledger"):
            engine = open_warehouse(settings.resolved_warehouse_url())  # migrations
        sql = _profile_sql(engine) if args.sql_profile else None
        summary = ingest(settings, args.landing, engine=engine)
        with clock.stage("metrics"):
            figures = refresh_mart(engine, args.year, region=settings.region)
        if not args.no_docs:
            from expectations.audit import build_data_docs

            with clock.stage("docs"):
                build_data_docs(settings.resolved_data_docs_dir())
    engine.dispose()
    seconds = time.perf_counter() - t0
    if args.read_ahead == "process":  # the reader ran in its own process: its own clock
        clock.seconds["read"] = summary.read_seconds
    # The reader process has exited (joined): its peak is that of the finished children.
    reader_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    statuses: dict[str, int] = {}
    for o in summary.outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    doc: dict[str, object] = {
        "landing": args.landing,
        "backend": settings.resolved_warehouse_url().split(":", 1)[0],
        "files": len(summary.outcomes),
        "statuses": statuses,
        "rows_read": sum(o.rows_read for o in summary.outcomes),
        "rows_accepted": sum(o.rows_accepted for o in summary.outcomes),
        "seconds": round(seconds, 3),
        "import_seconds": round(t_imports, 3),
        "stage_seconds": {k: round(v, 3) for k, v in clock.seconds.items()},
        "stage_peak_rss_mib": {k: round(v / 2**20, 1) for k, v in clock.peak_rss.items()},
        "peak_rss_main_mib": round(peak_rss_bytes() / 2**20, 1),
        "peak_rss_reader_mib": round(reader_peak / 2**20, 1),
        # Both processes together, sampled every 10 ms (never below the main process's peak).
        "peak_rss_mib": round(max(clock.peak_tree_rss, peak_rss_bytes()) / 2**20, 1),
        "figures": len(figures),
    }
    if sql is not None:
        top = sorted(sql.items(), key=lambda kv: -kv[1][0])[:12]
        doc["sql_seconds"] = {k: [round(v[0], 3), v[1]] for k, v in top}
    return doc


def _profile_sql(engine: object) -> dict[str, list[float]]:
    """Seconds and count per statement kind (its first words), summed over the run."""
    from sqlalchemy import event

    totals: dict[str, list[float]] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["bench_t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        kind = " ".join(statement.split()[:4])[:60]
        entry = totals.setdefault(kind, [0.0, 0])
        entry[0] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        entry[1] += 1

    return totals


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
