"""Peak memory of the connector on one file, by step: is a big export streamed or held whole?

    .venv/bin/python -m bench.memory FILE_RELATIVE --landing DIR

Runs `connectors.extract.extract_file` on one delivery in this (fresh) process and prints one
JSON document: file size, rows, seconds, the peak resident set size while the rows are read
and checked (`extract_table`: a CSV is parsed block by block as it is checked), the size of
the accepted rows handed over (Arrow), and the peak of the whole process. `bench.run` calls
it on the largest file of each scale.
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
    args = parser.parse_args(argv)

    from bench.stages import StageClock, peak_rss_bytes, rss_bytes
    from connectors.extract import extract_file
    from connectors.landing import IgnoredFile, landing_file

    found = landing_file(args.landing, args.file)
    assert not isinstance(found, IgnoredFile), found
    baseline = rss_bytes()
    targets = [("connectors.extract", "extract_table", "read")]
    t0 = time.perf_counter()
    with StageClock(targets=targets) as clock:
        batch = extract_file(found, pii_key=b"bench")
    seconds = time.perf_counter() - t0
    size = os.path.getsize(Path(args.landing) / args.file)
    return {
        "file": args.file,
        "size_mib": round(size / 2**20, 1),
        "rows_read": batch.rows_read,
        "seconds": round(seconds, 2),
        "rss_before_mib": round(baseline / 2**20, 1),
        "peak_rss_extract_table_mib": round(clock.peak_rss["read"] / 2**20, 1),
        "accepted_mib": round(batch.accepted.nbytes / 2**20, 1),
        "peak_rss_mib": round(peak_rss_bytes() / 2**20, 1),
        "rss_after_mib": round(rss_bytes() / 2**20, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
