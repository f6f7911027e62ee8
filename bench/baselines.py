"""The two reference points the end-to-end run is measured against, on the same landing area.

    .venv/bin/python -m bench.baselines copy  --landing DIR --pg URL   # the physical limit
    .venv/bin/python -m bench.baselines naive --landing DIR --pg URL   # pandas.read_* + to_sql

`copy`: every file is extracted first (not timed) and its accepted rows turned into an Arrow
table (not timed); then only the load is timed, twice: `COPY … FROM STDIN (FORMAT csv)` written
by Arrow into a bare table (no index, no constraint, one transaction per file, the same path
`warehouse.publish.bulk_load` uses), and ADBC's `adbc_ingest` (binary COPY) into another bare
table. That is what PostgreSQL on this machine can take at best: no parsing, no validation.

`naive`: what a first script would do: `pandas.read_csv` (encoding UTF-8, else GB18030) /
`read_excel` (the declared sheet and header row) / `json.load` + `DataFrame(records)`, every
column as text (type inference breaks `to_sql` as soon as a column is blank in one month and
filled in the next), then `DataFrame.to_sql(..., if_exists="append")` (SQLAlchemy's batched
`insertmanyvalues` over psycopg 3); no normalization, no validation, no ledger.

Each prints one JSON document (rows and seconds); `bench.run` starts them in fresh processes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any


def _adbc_uri(url: str) -> str:
    """postgresql+psycopg://… -> postgresql://… (libpq URI for the ADBC driver)."""
    return "postgresql://" + url.split("://", 1)[1]


def copy_baseline(landing: str, url: str) -> dict[str, Any]:
    from bureau_stats.extras import require

    require("adbc", "the ADBC baseline")
    import adbc_driver_postgresql.dbapi as adbc
    from sqlalchemy import create_engine

    from bench.stages import peak_rss_bytes
    from connectors.extract import extract_file
    from connectors.landing import discover
    from connectors.sources import SOURCES
    from warehouse.publish import bulk_load, stage_frame, staging_table

    files, _ = discover(landing)
    engine = create_engine(url)
    made: set[str] = set()
    rows_read = rows = 0
    copy_s = adbc_s = prepare_s = 0.0
    with adbc.connect(_adbc_uri(url)) as aconn:
        for f in files:
            t0 = time.perf_counter()
            batch = extract_file(f, pii_key=b"bench")
            if batch.verdict != "readable" or batch.rows_accepted == 0:
                continue
            source = SOURCES[f.source]
            data = stage_frame(source, batch.accepted)
            prepare_s += time.perf_counter() - t0
            bare = staging_table(source, f"bare_copy_{source.code}", temporary=False)
            if source.code not in made:
                with engine.begin() as conn:
                    bare.create(conn)
                made.add(source.code)
            t0 = time.perf_counter()
            with engine.begin() as conn:
                bulk_load(conn, bare, data)
            copy_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            with aconn.cursor() as cur:
                cur.adbc_ingest(f"bare_adbc_{source.code}", data, mode="create_append")
            aconn.commit()
            adbc_s += time.perf_counter() - t0
            rows += data.num_rows
            rows_read += batch.rows_read
    engine.dispose()
    return {
        "rows": rows,
        "rows_read": rows_read,
        "files": len(files),
        "copy_seconds": round(copy_s, 3),
        "adbc_seconds": round(adbc_s, 3),
        "prepare_seconds": round(prepare_s, 3),
        "peak_rss_mib": round(peak_rss_bytes() / 2**20, 1),
    }


def _naive_read(path: Path, source: Any) -> Any:
    import pandas as pd

    if source.format == "csv":
        try:
            return pd.read_csv(path, encoding="utf-8-sig", dtype=str)
        except UnicodeDecodeError:
            return pd.read_csv(path, encoding="gb18030", dtype=str)
    if source.format == "xlsx":
        return pd.read_excel(  # openpyxl: pandas' default engine for .xlsx
            path,
            sheet_name=source.sheet or 0,
            header=source.header_row - 1,
            dtype=str,
            engine="openpyxl",
        )
    with open(path, encoding="utf-8") as fp:
        return pd.DataFrame(json.load(fp)[source.json_records], dtype=str)


def naive_baseline(landing: str, url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine

    from bench.stages import peak_rss_bytes
    from connectors.landing import discover
    from connectors.sources import SOURCES

    files, _ = discover(landing)
    engine = create_engine(url)
    rows = failed = 0
    read_s = write_s = 0.0
    for f in files:
        source = SOURCES[f.source]
        t0 = time.perf_counter()
        try:
            frame = _naive_read(Path(f.path), source)
        except Exception as exc:  # a naive script dies here; we count it and go on
            failed += 1
            print(f"naive read failed on {f.relative}: {type(exc).__name__}", file=sys.stderr)
            continue
        t1 = time.perf_counter()
        try:
            frame.to_sql(f"naive_{source.code}", engine, if_exists="append", index=False)
        except Exception as exc:
            failed += 1
            print(f"naive to_sql failed on {f.relative}: {type(exc).__name__}", file=sys.stderr)
            continue
        t2 = time.perf_counter()
        read_s += t1 - t0
        write_s += t2 - t1
        rows += len(frame)
    engine.dispose()
    return {
        "rows": rows,
        "files": len(files),
        "failed_files": failed,
        "seconds": round(read_s + write_s, 3),
        "read_seconds": round(read_s, 3),
        "to_sql_seconds": round(write_s, 3),
        "peak_rss_mib": round(peak_rss_bytes() / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("copy", "naive"))
    parser.add_argument("--landing", required=True)
    parser.add_argument("--pg", required=True, help="SQLAlchemy URL of an empty database")
    args = parser.parse_args(argv)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.mode == "copy":
        return copy_baseline(args.landing, args.pg)
    return naive_baseline(args.landing, args.pg)


if __name__ == "__main__":
    print(json.dumps(main()))
