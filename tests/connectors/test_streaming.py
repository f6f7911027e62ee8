"""A CSV export is read and checked block by block: the verdict must not depend on where the
blocks are cut. Tiny block sizes make a 2,000-row export span dozens of blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import csv_reader
from connectors.batch import ExtractedBatch
from connectors.extract import _duplicated
from tests.connectors.conftest import REG_HEADER, csv_bytes, reg_row


def _row(txn: str, day: str, **kw: str) -> str:
    return reg_row(txn, applied=day, approved=day, **kw)


def _rows() -> list[str]:
    rows = [_row(f"DJ{i}", f"2024-01-{1 + i % 28:02d}") for i in range(2000)]
    rows[5] = _row("DJ5", "2024-01-06", name="乙公司")
    rows[1500] = rows[5]  # an exact duplicate, far away
    rows[10] = _row("DJ1800", "2024-01-11")  # same key as row 1800, other values
    rows[40] = reg_row("DJ40", applied="2024-13-01")  # a bad date ...
    rows[1900] = rows[40]  # ... and its duplicate: one reject, one duplicate
    for i in (100, 101, 700):
        rows[i] = ""  # blank lines
    return [*rows, "合计,2000", "", ""]


def _extract(extract, data: bytes, monkeypatch, block_bytes: int) -> ExtractedBatch:
    monkeypatch.setattr(csv_reader, "CSV_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(csv_reader, "CSV_HEAD_BYTES", min(block_bytes, 1 << 20))
    return extract("registration", data)


def _same(a: ExtractedBatch, b: ExtractedBatch) -> None:
    assert (a.verdict, a.reason, a.rows_read, a.rows_duplicate) == (
        b.verdict,
        b.reason,
        b.rows_read,
        b.rows_duplicate,
    )
    assert a.accepted.equals(b.accepted)
    pd.testing.assert_frame_equal(a.rejects, b.rejects)


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8"])
def test_blocks_do_not_change_the_verdict(extract, monkeypatch, encoding: str) -> None:
    data = csv_bytes(REG_HEADER, _rows(), encoding)
    whole = _extract(extract, data, monkeypatch, 1 << 26)
    small = _extract(extract, data, monkeypatch, 4096)
    _same(small, whole)
    assert small.rows_read == 1997 and small.rows_duplicate == 2
    rejects = small.rejects.set_index("line")
    # line = row index + 2 (header on line 1); both rows of the clashing key are rejected,
    # the one that broke no column rule only found out after the whole file was read.
    assert rejects.loc[[12, 1802], "reason"].tolist() == ["conflicting_key"] * 2
    assert rejects.loc[42, "reason"] == "bad_date"
    assert len(rejects) == 3
    lines = small.accepted.column("line").to_pylist()
    assert 103 not in lines and lines[-1] == 2001  # blank lines skipped, footer dropped


def test_nul_byte_after_the_head_quarantines(extract, monkeypatch) -> None:
    rows = _rows()
    rows[1200] = rows[1200].replace("DJ", "D\x00J")
    batch = _extract(extract, csv_bytes(REG_HEADER, rows), monkeypatch, 4096)
    assert (batch.verdict, batch.reason) == ("quarantine", "unreadable")


@pytest.mark.parametrize(
    ("tail", "verdict"),
    [
        # UTF-8 head, GB18030 tail: the whole file is neither encoding.
        (reg_row("DJX", name="混合编码公司").encode("gb18030"), "encoding"),
        # A ragged row far from the header: the forgiving reader keeps every row.
        ((reg_row("DJX") + ",多余,列").encode("utf-8"), None),
    ],
)
def test_late_surprises_fall_back_to_the_whole_file(
    extract, monkeypatch, tail: bytes, verdict: str | None
) -> None:
    data = csv_bytes(REG_HEADER, _rows()[:1500], "utf-8") + tail + b"\n"
    whole = _extract(extract, data, monkeypatch, 1 << 26)
    small = _extract(extract, data, monkeypatch, 4096)
    _same(small, whole)
    assert small.reason == verdict
    if verdict is None:
        assert small.rows_read == 1498  # 1,500 rows - 3 blank + the ragged one


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=60),
    st.sampled_from(["first", False]),
)
def test_duplicated_matches_pandas(pairs: list[tuple[int, int]], keep) -> None:
    keys = np.array(pairs, dtype=np.uint64).reshape(-1, 2)
    expected = pd.DataFrame({"a": keys[:, 0], "b": keys[:, 1]}).duplicated(keep=keep)
    assert _duplicated(keys, keep).tolist() == expected.tolist()
