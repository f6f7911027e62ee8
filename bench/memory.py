"""Peak memory of the connector on one file, by step: is a big export streamed or held whole?

    .venv/bin/python -m bench.memory FILE_RELATIVE --landing DIR [--in-memory]

Runs `connectors.extract.extract_file` on one delivery in this (fresh) process and prints one
JSON document: file size, rows, seconds, the peak resident set size while the rows are read
and checked (`extract_table`: a CSV is parsed block by block as it is checked), the size of
the accepted rows handed over (Arrow, spooled to a temporary folder as the pipeline does, or
kept in memory with --in-memory), and the peak of the whole process. `bench.run` calls it on
the largest file of each scale.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="path relative to the landing area")
    parser.add_argument("--landing", required=True)
    parser.add_argument("--in-memory", action="store_true", help="do not spool accepted rows")
    args = parser.parse_args(argv)
    import tempfile

    import pyarrow as pa

    from bench.stages import StageClock, peak_rss_bytes, rss_bytes
    from connectors.extract import extract_file
    from connectors.landing import IgnoredFile, landing_file

    found = landing_file(args.landing, args.file)
    assert not isinstance(found, IgnoredFile), found
    baseline = rss_bytes()
    targets = [("connectors.extract", "extract_table", "read")]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-spool-") as spool:
        with StageClock(targets=targets) as clock:
            batch = extract_file(
                found, pii_key=b"bench", spool_dir=None if args.in_memory else Path(spool)
            )
        seconds = time.perf_counter() - t0
        accepted = (
            batch.accepted.nbytes
            if isinstance(batch.accepted, pa.Table)
            else os.path.getsize(batch.accepted.path)  # type: ignore[union-attr]
        )
    size = os.path.getsize(Path(args.landing) / args.file)
    return {
        "file": args.file,
        "size_mib": round(size / 2**20, 1),
        "rows_read": batch.rows_read,
        "seconds": round(seconds, 2),
        "rss_before_mib": round(baseline / 2**20, 1),
        "peak_rss_extract_table_mib": round(clock.peak_rss["read"] / 2**20, 1),
        "spooled": not args.in_memory,
        "accepted_mib": round(accepted / 2**20, 1),
        "peak_rss_mib": round(peak_rss_bytes() / 2**20, 1),
        "rss_after_mib": round(rss_bytes() / 2**20, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
