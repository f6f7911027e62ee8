"""The workbook read path, cell by cell (python-calamine) against Arrow columns (fastexcel).

    .venv/bin/python -m bench.bench_workbook [DIR ...]            # default: the sample exports
    .venv/bin/python -m bench.bench_workbook --memory cells|columns FILE.xlsx
    .venv/bin/python -m bench.bench_workbook --build 1000000 OUT.xlsx   # a big food-licence sheet

Reads every XLSX under each DIR (the declared sheet of its source, or the first one) both ways,
checks the two grids are identical, and reports rows per second of each read (the bounds scan,
common to both, is timed apart; CPU seconds, the least of --repeat runs). `--memory` reads one workbook one way in this process and
prints its peak RSS (run each way in a fresh process to compare). `--build N` writes an N-row
workbook of the sample food-licence sheet's rows over and over (same cell types: date cells,
texts spelled like datetimes), to measure that.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

import pandas as pd

from connectors.sources import SOURCES
from connectors.xlsx_cells import sheet_cells
from connectors.xlsx_columns import column_grid
from connectors.xlsx_reader import cell_grid
from connectors.xlsx_scan import scan_workbook

T = TypeVar("T")
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared/samples/landing"


def declared_sheet(path: Path) -> str | None:
    source = SOURCES.get(path.parent.name)
    return source.sheet if source is not None else None


def best(repeat: int, read: Callable[[], T]) -> tuple[float, T]:
    """The least CPU time of `repeat` runs (the machine is shared: wall time says little)."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        out = read()
        times.append(time.process_time() - t0)
    return min(times), out


def compare(paths: list[Path], repeat: int) -> int:
    """Both reads of every workbook; returns the number of workbooks whose grids differ."""
    totals = {"scan": 0.0, "cells": 0.0, "columns": 0.0}
    rows = differ = 0
    for path in paths:
        data = path.read_bytes()
        seconds, scan = best(repeat, partial(scan_workbook, data, declared_sheet(path)))
        totals["scan"] += seconds
        seconds, old = best(repeat, partial(cell_grid, data, scan.sheet))
        totals["cells"] += seconds
        seconds, new = best(repeat, partial(column_grid, data, scan))
        totals["columns"] += seconds
        rows += len(old)
        if new is None:
            new = cell_grid(data, scan.sheet)
        try:
            pd.testing.assert_frame_equal(new, old, check_exact=True)
        except AssertionError as exc:
            differ += 1
            print(f"DIFFERENT {path}: {str(exc)[:300]}")
    print(f"{len(paths)} workbooks, {rows:,} sheet rows, {differ} with a different grid")
    for name, seconds in totals.items():
        print(f"  {name:8} {seconds:7.2f} s  {rows / seconds if seconds else 0:>12,.0f} rows/s")
    if totals["columns"]:
        print(f"  columns / cells: {totals['cells'] / totals['columns']:.2f}x faster")
    return differ


def memory(way: str, path: Path) -> None:
    data = path.read_bytes()
    scan = scan_workbook(data, declared_sheet(path))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.process_time()
    grid = cell_grid(data, scan.sheet) if way == "cells" else column_grid(data, scan)
    seconds = time.process_time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = 0 if grid is None else len(grid)
    print(
        f"{way}: {rows:,} rows in {seconds:.2f} CPU s, peak RSS {peak >> 10:,} MiB "
        f"(+{(peak - before) >> 10:,} MiB while reading)"
    )


def build(rows: int, out: Path) -> None:
    import xlsxwriter

    sample = sorted((SAMPLES / "food_license").glob("*.xlsx"))[0]
    data = sample.read_bytes()
    cells = sheet_cells(data, scan_workbook(data, SOURCES["food_license"].sheet).sheet)
    head, body = cells[:3], cells[3:]
    book = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    sheet = book.add_worksheet(SOURCES["food_license"].sheet or "Sheet1")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for i in range(rows):
        row = head[i] if i < len(head) else body[(i - len(head)) % len(body)]
        for j, value in enumerate(row):
            if isinstance(value, (date, datetime)):
                sheet.write_datetime(i, j, value, day)
            elif value != "":
                sheet.write(i, j, value)
    book.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path)
    parser.add_argument("--memory", choices=["cells", "columns"])
    parser.add_argument("--build", type=int, metavar="ROWS")
    parser.add_argument("--repeat", type=int, default=3, help="runs per read (the fastest counts)")
    args = parser.parse_args()
    if args.build:
        build(args.build, args.dirs[0])
        return
    if args.memory:
        memory(args.memory, args.dirs[0])
        return
    paths = sorted(p for d in args.dirs or [SAMPLES] for p in d.rglob("*.xlsx"))
    sys.exit(1 if compare(paths, args.repeat) else 0)


if __name__ == "__main__":
    main()
