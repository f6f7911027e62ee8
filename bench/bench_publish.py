"""How close publishing sits to a raw COPY, on PostgreSQL.

    .venv/bin/python -m bench.bench_publish [--rows 1000000] [--repeat 3] [--input arrow]
    .venv/bin/python -m bench.bench_publish --landing var/demo/landing   # e.g. a --scale 100 year

Synthesizes N registration rows (ten declared columns) as the connector would hand them over
(a pandas frame, or with `--input arrow` the Arrow table of the stage schema), or extracts
every file of a landing area (not timed), then, `--repeat` times, each time in a fresh scratch
database and alternating which goes first (the machine is shared: compare medians):

- raw COPY: the same rows, Arrow -> CSV -> COPY FROM STDIN into a bare table (no index, no
  constraint, nothing else in the transaction);
- publish: `warehouse.publish.publish_batch` end to end (rows -> Arrow with the lineage
  columns, supersession, COPY straight into the source table, ledger, rejects, commit);
- republish: a `_v2` of the same period published on top (every row of the first superseded).

The databases are created for the run and dropped afterwards. Prints the median seconds and
rows/s of each, and publish ÷ raw COPY.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

from connectors.batch import ExtractedBatch, LandingFile, no_rejects
from connectors.sources import SOURCES
from warehouse.engine import open_warehouse
from warehouse.ledger import order_deliveries, register_deliveries
from warehouse.load import bulk_load, stage_frame, staging_table
from warehouse.publish import publish_batch

ADMIN_URL = os.environ.get(
    "BUREAU_STATS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def synthetic_batch(rows: int, version: int = 1, seed: int = 0) -> ExtractedBatch:
    """N accepted registration rows in March 2024, typed like the connector's output."""
    rng = np.random.default_rng(seed + version)
    source = SOURCES["registration"]
    start, end = date(2024, 3, 1), date(2024, 3, 31)
    approved = pd.Series(
        (np.datetime64("2024-03-01") + rng.integers(0, 31, rows)).astype("datetime64[D]")
    )
    applied = approved - pd.to_timedelta(rng.integers(0, 20, rows), unit="D")
    ids = pd.Series(np.arange(rows)).astype(str).str.zfill(10)
    frame = pd.DataFrame(
        {
            "txn_id": ("DJ" + ids).astype("str"),
            "uscc": ("91440703MA" + ids.str[-8:]).astype("str"),
            "entity_name": ("江门市蓬江区某某" + ids.str[-4:] + "有限公司").astype("str"),
            "entity_type": pd.Series(
                np.array(["企业", "个体工商户", "农民专业合作社"])[rng.integers(0, 3, rows)],
                dtype="str",
            ),
            "txn_type": pd.Series(
                np.array(["设立登记", "变更登记", "注销登记"])[rng.integers(0, 3, rows)],
                dtype="str",
            ),
            "channel": pd.Series(
                np.array(["网上办理", "窗口办理"])[rng.integers(0, 2, rows)], dtype="str"
            ),
            "applied_on": applied.dt.date,
            "approved_on": approved.dt.date,
            "authority": pd.Series(["江门市蓬江区市场监督管理局"] * rows, dtype="str"),
            "subdistrict": pd.Series(
                np.array(["环市街道", "潮连街道", "棠下镇", "杜阮镇"])[rng.integers(0, 4, rows)],
                dtype="str",
            ),
        }
    )
    frame["partition_date"] = frame["approved_on"]
    frame["line"] = np.arange(2, rows + 2, dtype="int64")
    assert list(frame.columns[:10]) == [c.field for c in source.columns]
    suffix = f"_v{version}" if version > 1 else ""
    name = f"{source.file_stem}_20240301-20240331{suffix}.csv"
    file = LandingFile(
        "registration", f"/bench/{name}", f"registration/{name}", start, end, version, "csv"
    )
    empty = no_rejects()
    return ExtractedBatch(file, f"{version:064x}", frame, empty, rows_read=rows, rows_duplicate=0)


def landing_batches(landing: str) -> list[ExtractedBatch]:
    from connectors.extract import extract_file
    from connectors.landing import discover

    files, _ = discover(landing)
    batches = [extract_file(f, pii_key=b"bench") for f in files]
    return [b for b in batches if b.verdict == "readable"]


def as_arrow(batches: list[ExtractedBatch]) -> list[ExtractedBatch]:
    """The same batches with `accepted` already in the stage schema (the connector's form)."""
    return [
        dataclasses.replace(b, accepted=stage_frame(SOURCES[b.source], b.accepted)) for b in batches
    ]


def raw_copy_seconds(url: str, batches: list[ExtractedBatch]) -> float:
    """The same rows, same Arrow -> CSV path, COPY into bare tables (no index, no constraint)."""
    engine = create_engine(url)
    seconds = 0.0
    try:
        for i, b in enumerate(batches):
            source = SOURCES[b.source]
            bare = staging_table(source, f"bare_{source.code}_{i}", temporary=False)
            with engine.begin() as conn:
                bare.create(conn)
            t0 = time.perf_counter()
            with engine.begin() as conn:
                bulk_load(conn, bare, stage_frame(source, b.accepted))
            seconds += time.perf_counter() - t0
    finally:
        engine.dispose()
    return seconds


def publish_seconds(
    engine_url: str, batches: list[ExtractedBatch], publish: Callable[..., Any] = publish_batch
) -> tuple[float, int]:
    engine = open_warehouse(engine_url)
    seconds, rows = 0.0, 0
    try:
        ordered = order_deliveries(batches)
        records = register_deliveries(engine, ordered)
        for b, r in zip(ordered, records, strict=True):
            t0 = time.perf_counter()
            result = publish(engine, b, r, threshold=Decimal(1))
            seconds += time.perf_counter() - t0
            rows += result.rows_accepted
            assert result.status in ("published", "superseded"), result
    finally:
        engine.dispose()
    return seconds, rows


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh database for one repetition, dropped afterwards."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"bench_publish_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--landing", help="extract every file of this landing area instead")
    parser.add_argument("--pg", default=ADMIN_URL, help="admin URL; a scratch database is created")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (medians reported)")
    parser.add_argument(
        "--input",
        choices=("pandas", "arrow"),
        default="pandas",
        help="hand the rows over as a pandas frame or as an Arrow table of the stage schema",
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    if args.landing:
        first = landing_batches(args.landing)
        second: list[ExtractedBatch] = []
    else:
        first, second = [synthetic_batch(args.rows, 1)], [synthetic_batch(args.rows, 2)]
    if args.input == "arrow":
        first, second = as_arrow(first), as_arrow(second)
    rows = sum(b.rows_accepted for b in first)
    print(f"prepared {rows:,} rows in {len(first)} file(s) in {time.perf_counter() - t0:.1f}s")

    copies: list[float] = []
    publishes: list[float] = []
    republishes: list[float] = []
    published = re_rows = 0
    for i in range(args.repeat):
        with scratch_database(args.pg) as url:
            if i % 2 == 0:
                copies.append(raw_copy_seconds(url, first))
            pub_s, published = publish_seconds(url, first)
            publishes.append(pub_s)
            if second:
                re_s, re_rows = publish_seconds(url, second)
                republishes.append(re_s)
            if i % 2 == 1:
                copies.append(raw_copy_seconds(url, first))
        print(
            f"  run {i + 1}: raw COPY {copies[-1]:.2f}s, publish {publishes[-1]:.2f}s"
            + (f", republish {republishes[-1]:.2f}s" if republishes else "")
        )
    copy_s, pub_s = statistics.median(copies), statistics.median(publishes)
    print(f"medians of {args.repeat} runs ({args.input} input):")
    print(f"raw COPY   {rows:>12,} rows  {copy_s:7.2f}s  {rows / copy_s:>12,.0f} rows/s")
    print(
        f"publish    {published:>12,} rows  {pub_s:7.2f}s  {published / pub_s:>12,.0f} rows/s"
        f"  ({pub_s / copy_s:.2f}x raw COPY)"
    )
    if republishes:
        re_s = statistics.median(republishes)
        print(
            f"republish  {re_rows:>12,} rows  {re_s:7.2f}s  {re_rows / re_s:>12,.0f} rows/s"
            f"  (supersedes {rows:,} rows)"
        )


if __name__ == "__main__":
    main()
