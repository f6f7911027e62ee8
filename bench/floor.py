"""The CPU floor under any pipeline on these exports: parse them, COPY them, nothing else.

    .venv/bin/python -m bench.floor --landing DIR --pg URL    # URL of an empty database

Why: a throughput target is only reachable if the CPU it leaves per row covers what the
contract requires. This measures, in core-seconds (CPU time, so the machine's other load barely
matters), the two things every pipeline has to do however it is written:

- `parse`: each file read by the fastest reader at hand and nothing else: CSV decoded
  (UTF-8, else GB18030) and split by pyarrow into text columns, XLSX through python-calamine's
  cells, JSON through `json.loads`; no value rules, no checks, no hashes;
- `copy`: the accepted rows (extracted beforehand, not counted) loaded with the warehouse's own
  `bulk_load` into a bare table: this process's CPU and the PostgreSQL backend's
  (`/proc/<pg_backend_pid>/stat`, so the database must run on this machine).

Prints one JSON document. Compare `parse + copy` per row with the core-seconds a target allows
on two cores (rows ÷ target rows/s × 2).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def parse_rows(path: Path) -> int:
    """Rows of one export as the fastest readers see them (header and footer lines included)."""
    import pyarrow.csv as pacsv
    from python_calamine import CalamineWorkbook

    if path.suffix == ".csv":
        raw = path.read_bytes()
        try:
            decoded = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            decoded = raw.decode("gb18030")
        options = pacsv.ConvertOptions(column_types={}, strings_can_be_null=False)
        return int(pacsv.read_csv(io.BytesIO(decoded.encode()), convert_options=options).num_rows)
    if path.suffix == ".xlsx":
        book = CalamineWorkbook.from_path(str(path))
        return sum(len(book.get_sheet_by_name(n).to_python()) for n in book.sheet_names)
    if path.suffix == ".json":
        return len(json.loads(path.read_bytes())["records"])
    return 0


def parse_floor(landing: str) -> dict[str, dict[str, float]]:
    from connectors.landing import discover

    files, _ = discover(landing)
    out: dict[str, dict[str, float]] = {}
    for f in files:
        before = cpu_seconds()
        rows = parse_rows(Path(f.path))
        spent = cpu_seconds() - before
        entry = out.setdefault(f.source, {"rows": 0, "core_seconds": 0.0})
        entry["rows"] += rows
        entry["core_seconds"] += spent
    return out


def copy_floor(landing: str, url: str) -> dict[str, float]:
    from sqlalchemy import create_engine, text

    from connectors.extract import extract_file
    from connectors.landing import discover
    from connectors.sources import SOURCES
    from warehouse.load import bulk_load, stage_frame, staging_table

    files, _ = discover(landing)
    engine = create_engine(url)
    made: set[str] = set()
    rows = 0
    client = backend = 0.0
    for f in files:
        extracted = extract_file(f, pii_key=b"bench")
        if extracted.verdict != "readable" or extracted.rows_accepted == 0:
            continue
        source = SOURCES[f.source]
        data = stage_frame(source, extracted.accepted)
        bare = staging_table(source, f"floor_copy_{source.code}", temporary=False)
        if source.code not in made:
            with engine.begin() as conn:
                bare.create(conn)
            made.add(source.code)
        with engine.begin() as conn:
            pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
            backend_before, client_before = process_cpu_seconds(pid), cpu_seconds()
            bulk_load(conn, bare, data)
        # read after the commit: the backend's work includes it
        client += cpu_seconds() - client_before
        backend += process_cpu_seconds(pid) - backend_before
        rows += data.num_rows
    engine.dispose()
    return {"rows": rows, "client_core_seconds": client, "backend_core_seconds": backend}


def measure(landing: str, url: str) -> dict[str, Any]:
    parse = parse_floor(landing)
    copy = copy_floor(landing, url)
    parse_total = sum(v["core_seconds"] for v in parse.values())
    rounded = {
        k: {"rows": int(v["rows"]), "core_seconds": round(v["core_seconds"], 2)}
        for k, v in parse.items()
    }
    return {
        "parse": rounded,
        "parse_core_seconds": round(parse_total, 2),
        "copy": {k: round(v, 2) for k, v in copy.items()},
        "floor_core_seconds": round(
            parse_total + copy["client_core_seconds"] + copy["backend_core_seconds"], 2
        ),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--landing", required=True)
    parser.add_argument("--pg", required=True, help="SQLAlchemy URL of an empty database")
    args = parser.parse_args(argv)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    return measure(args.landing, args.pg)


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
    print()
