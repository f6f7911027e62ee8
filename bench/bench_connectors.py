"""How fast the generic connector reads and normalizes a big registration export.

    .venv/bin/python -m bench.bench_connectors [--rows 1000000]

Builds a GB18030 registration CSV of N rows from the sample export (unique keys, every quirk
of the sample kept), then times `extract_file` (decode, parse, normalize, validate, dedupe).
"""

from __future__ import annotations

import argparse
import io
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.csv_reader import decode_csv
from connectors.extract import extract_file
from connectors.landing import IgnoredFile, landing_file

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared/samples/landing/registration"


def build(rows: int, out: Path) -> Path:
    text, _ = decode_csv(sorted(SAMPLE.glob("*0301-*.csv"))[0].read_bytes())
    base = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    reps = -(-rows // len(base))
    big = pd.concat([base] * reps, ignore_index=True).iloc[:rows]
    big["业务流水号"] = "DJ" + pd.Series(np.arange(rows)).astype(str).str.zfill(10)
    folder = out / "registration"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "经营主体登记业务明细_20240301-20240331.csv"
    big.to_csv(path, index=False, encoding="gb18030")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = build(args.rows, Path(tmp))
        found = landing_file(tmp, f"registration/{path.name}")
        assert not isinstance(found, IgnoredFile)
        t0 = time.perf_counter()
        batch = extract_file(found, pii_key=b"bench")
        seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"rows={batch.rows_read} accepted={batch.rows_accepted} rejected={batch.rows_rejected} "
        f"duplicate={batch.rows_duplicate} seconds={seconds:.2f} rows/s={batch.rows_read / seconds:,.0f} "
        f"peak_rss_mib={rss:,.0f} size_mib={path.stat().st_size / 2**20 if path.exists() else 0:.0f}"
    )


if __name__ == "__main__":
    main()
