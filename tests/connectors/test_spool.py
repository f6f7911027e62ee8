"""Accepted rows spilled to disk: the same rows as in memory, read back in bounded chunks,
private to the run and removed with it."""

from __future__ import annotations

import io
import os
import pickle
import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from connectors import csv_reader, spool
from connectors.extract import extract_bytes, extract_file
from connectors.landing import discover
from connectors.spool import SpooledRows, SpoolWriter
from tests.connectors.conftest import KEY, REG_HEADER, csv_bytes, landing, reg_row

SCHEMA = pa.schema([pa.field("line", pa.int64()), pa.field("name", pa.string())])


def _table(start: int, n: int) -> pa.Table:
    lines = list(range(start, start + n))
    return pa.table({"line": lines, "name": [f"n{i}" for i in lines]}, schema=SCHEMA)


def test_written_blocks_read_back_in_order_and_in_bounded_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool, "BATCH_ROWS", 100)
    writer = SpoolWriter(tmp_path, SCHEMA)
    for start, n in [(0, 250), (250, 0), (250, 1)]:
        writer.write(_table(start, n))
    rows = writer.finish()
    assert len(rows) == 251
    assert rows.read_all().column("line").to_pylist() == list(range(251))
    sizes = [chunk.num_rows for chunk in rows.chunks(120)]
    assert sum(sizes) == 251 and max(sizes) <= 200  # whole record batches of <= 100 rows
    assert [c.num_rows for c in spool.chunks(rows, 10_000)] == [251]
    assert rows.columns(["name"]).column_names == ["name"]
    assert [p.name for p in tmp_path.iterdir()] == [Path(rows.path).name]  # no .part left


def test_finish_drops_the_rows_found_out_later(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, SCHEMA)
    writer.write(_table(0, 70_000))  # spans two record batches
    keep = np.ones(70_000, dtype=bool)
    keep[[0, 65_535, 65_536, 69_999]] = False
    rows = writer.finish(keep)
    lines = rows.read_all().column("line").to_pylist()
    assert len(rows) == len(lines) == 69_996
    assert lines[:2] == [1, 2] and 65_536 not in lines and lines[-1] == 69_998
    assert len(list(tmp_path.iterdir())) == 1  # the unfiltered file is gone


def test_an_empty_spool_still_yields_one_empty_chunk(tmp_path: Path) -> None:
    rows = SpoolWriter(tmp_path, SCHEMA).finish()
    chunks = list(spool.chunks(rows, 10))
    assert len(rows) == 0 and [c.num_rows for c in chunks] == [0]
    assert chunks[0].schema.equals(SCHEMA)


def test_abort_and_discard_leave_nothing(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, SCHEMA)
    writer.write(_table(0, 10))
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    writer = SpoolWriter(tmp_path, SCHEMA)
    writer.write(_table(0, 10))
    rows = writer.finish()
    rows.discard()
    rows.discard()  # twice is fine (a batch may be discarded by both paths)
    assert list(tmp_path.iterdir()) == []


def test_spooled_rows_pickle_as_a_path_not_as_rows(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, SCHEMA)
    writer.write(_table(0, 50_000))
    rows = writer.finish()
    payload = pickle.dumps(rows)
    assert len(payload) < 4096
    assert pickle.loads(payload).read_all().equals(rows.read_all())


def test_run_folders_are_private_and_removed_with_their_run(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    with spool.spooling(root) as folder:
        assert folder.parent == root
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        (folder / "x.arrow").write_bytes(b"rows")
    assert list(root.iterdir()) == []


def test_a_killed_runs_folder_is_swept_by_the_next_run(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    root.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = root / f"run-{int(dead.stdout)}-abc"
    orphan.mkdir()
    (orphan / "left.arrow").write_bytes(b"rows")
    alive = root / f"run-{os.getppid()}-def"  # a run still going (our parent)
    alive.mkdir()
    unrelated = root / "notes"
    unrelated.mkdir()
    with spool.spooling(root):
        pass
    assert sorted(p.name for p in root.iterdir()) == sorted([alive.name, "notes"])


def _rows() -> list[str]:
    def row(txn: str, day: str) -> str:
        return reg_row(txn, applied=day, approved=day)

    rows = [row(f"DJ{i}", f"2024-01-{1 + i % 28:02d}") for i in range(3000)]
    rows[2900] = rows[7]  # an exact duplicate, blocks apart
    rows[20] = row("DJ2500", "2024-01-21")  # a key clash found late
    rows[50] = reg_row("DJ50", applied="2024-13-01")  # a bad date
    return rows


@pytest.mark.parametrize("block_bytes", [1 << 26, 4096])
def test_spooled_extraction_equals_the_in_memory_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int
) -> None:
    monkeypatch.setattr(csv_reader, "CSV_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(csv_reader, "CSV_HEAD_BYTES", min(block_bytes, 1 << 20))
    data = csv_bytes(REG_HEADER, _rows())

    def run(spool_dir: Path | None):
        return extract_bytes(
            landing("registration"), io.BytesIO(data), pii_key=KEY, spool_dir=spool_dir
        )

    memory, spooled = run(None), run(tmp_path)
    assert isinstance(spooled.accepted, SpooledRows)
    assert spooled.accepted.read_all().equals(memory.accepted)
    assert (spooled.rows_read, spooled.rows_accepted, spooled.rows_duplicate) == (
        memory.rows_read,
        memory.rows_accepted,
        memory.rows_duplicate,
    )
    assert spooled.rows_accepted == 3000 - 1 - 2 - 1
    assert spooled.rejects.equals(memory.rejects)
    spooled.discard()
    assert list(tmp_path.iterdir()) == []


def test_every_demo_file_spools_the_rows_it_would_keep_in_memory(
    tmp_path: Path, demo_landing: Path
) -> None:
    files, _ = discover(str(demo_landing))
    for f in files:
        memory = extract_file(f, pii_key=KEY, threshold=Decimal("0.05"))
        spooled = extract_file(f, pii_key=KEY, threshold=Decimal("0.05"), spool_dir=tmp_path)
        assert spooled.accepted_frame().equals(memory.accepted_frame()), f.relative
        assert (spooled.verdict, spooled.reason) == (memory.verdict, memory.reason), f.relative
        spooled.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_read_leaves_no_spool(tmp_path: Path) -> None:
    batch = extract_bytes(
        landing("registration"), io.BytesIO(b"\x00\x01garbage"), pii_key=KEY, spool_dir=tmp_path
    )
    assert batch.verdict == "quarantine"
    assert list(tmp_path.iterdir()) == []
