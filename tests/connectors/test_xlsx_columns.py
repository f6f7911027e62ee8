"""The Arrow-column read of a workbook gives exactly the grid of the per-cell read.

Workbooks are written by openpyxl and by xlsxwriter (their XML differs: inline `t="n"`, shared
strings, styles) with every cell type mixed in a column: texts spelled like numbers, dates and
booleans, numbers that print another way than they read, dates, datetimes, times, booleans,
formulas with and without a value, blanks and empty strings.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connectors.xlsx_columns as xlsx_columns
import connectors.xlsx_reader as xlsx_reader
from connectors.sources import SOURCES
from connectors.xlsx_columns import column_grid
from connectors.xlsx_reader import cell_grid, xlsx_grid
from connectors.xlsx_scan import WorkbookScan, scan_workbook

SAMPLES = Path(__file__).resolve().parents[3] / "shared/samples/landing"
SHEET = "S"

# Texts spelled the way fastexcel spells other cell types, and texts that are not.
LOOK_ALIKES = [
    "2024-01-02 00:00:00",
    "2024-01-02 03:04:05.250",
    "true",
    "false",
    "123",
    "0123",
    "0.3",
    "0.30000000000000004",
    "1234.50",
    "-0",
    "440781198501158936",
    "440703195903133056",
    "1e5",
    "NA",
    "NULL",
    "nan",
    "NaN",
    "inf",
    "",
    " ",
    "18,100.00",
    "2024/01/02",
    "2024年1月2日",
    "是",
]
NUMBERS = [
    0.0,
    -0.0,
    0.1,
    0.30000000000000004,
    2.9999999999999996,
    1.5e-5,
    1e16,
    1e20,
    2.0**53 + 2,
    440703195903133056.0,
    16777216.5,
    123456789.12,
    -123.0,
    2900.0,
    18100.5,
]
WHEN = [
    date(2024, 1, 2),
    date(1904, 1, 1),
    date(1900, 3, 1),
    date(9999, 12, 31),
    datetime(2024, 3, 4, 15, 16, 17),
    datetime(2024, 3, 4, 23, 59, 59, 999000),
    time(13, 14, 15),
    time(0, 0),
]

text = st.one_of(
    st.sampled_from(LOOK_ALIKES),
    st.text(alphabet="abc 012-:.案件x", max_size=6).filter(lambda t: not t.startswith("=")),
)
number = st.one_of(
    st.sampled_from(NUMBERS), st.floats(allow_nan=False, allow_infinity=False, width=64)
)
when = st.one_of(
    st.sampled_from(WHEN),
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31)),
)
cell = st.one_of(st.none(), text, number, when, st.booleans(), st.sampled_from(["=1+1", "=A1"]))
# A column leans to one kind (as a sheet's columns do) but any kind may come in.
column = st.one_of(
    st.lists(cell, max_size=8),
    st.lists(st.one_of(number, st.none(), text), max_size=8),
    st.lists(st.one_of(when, st.none(), text), max_size=8),
    st.lists(st.one_of(st.booleans(), st.none(), text), max_size=8),
)


def openpyxl_book(columns: list[list[object]], header: bool) -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = SHEET
    top = 2 if header else 1
    for j, cells in enumerate(columns, start=1):
        if header:
            ws.cell(row=1, column=j, value=f"列{j}")
        for i, value in enumerate(cells):
            if value is not None:
                ws.cell(row=top + i, column=j, value=value)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def xlsxwriter_book(columns: list[list[object]], header: bool, inline: bool = False) -> bytes:
    """`inline`: texts as inline strings (as the exports have them), not shared strings."""
    buf = io.BytesIO()
    # constant_memory writes inline strings, through temporary files (in_memory would turn it off)
    options = {"constant_memory": True} if inline else {"in_memory": True}
    book = xlsxwriter.Workbook(buf, options)
    ws = book.add_worksheet(SHEET)
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    clock = book.add_format({"num_format": "hh:mm:ss"})
    top = 1 if header else 0
    if header:
        for j in range(len(columns)):
            ws.write_string(0, j, f"列{j}")
    for i in range(max(map(len, columns), default=0)):  # row by row (constant_memory)
        row = top + i
        for j, cells in enumerate(columns):
            value = cells[i] if i < len(cells) else None
            if value is None:
                continue
            if isinstance(value, bool):
                ws.write_boolean(row, j, value)
            elif isinstance(value, datetime):
                ws.write_datetime(row, j, value, stamp)
            elif isinstance(value, date):
                ws.write_datetime(row, j, value, day)
            elif isinstance(value, time):
                ws.write_datetime(row, j, value, clock)
            elif isinstance(value, float):
                ws.write_number(row, j, value)
            elif isinstance(value, str) and value.startswith("="):
                ws.write_formula(row, j, value, None, 2)  # a formula with its value saved
            else:
                ws.write_string(row, j, str(value))
    book.close()
    return buf.getvalue()


def inline_book(columns: list[list[object]], header: bool) -> bytes:
    return xlsxwriter_book(columns, header, inline=True)


WRITERS = [openpyxl_book, xlsxwriter_book, inline_book]


def both_reads(data: bytes) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    scan = scan_workbook(data, SHEET)
    return column_grid(data, scan), cell_grid(data, scan.sheet)


def assert_same(new: pd.DataFrame | None, old: pd.DataFrame) -> None:
    assert new is not None
    pd.testing.assert_frame_equal(new, old, check_exact=True, check_column_type=True)
    assert type(new.index) is type(old.index) and type(new.columns) is type(old.columns)
    assert new.to_numpy().tolist() == old.to_numpy().tolist()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(column, min_size=1, max_size=5), st.booleans(), st.sampled_from(WRITERS))
def test_any_mix_of_cells_reads_the_same_both_ways(
    columns: list[list[object]], header: bool, write: Callable[[list[list[object]], bool], bytes]
) -> None:
    if not any(any(v is not None for v in c) for c in columns) and not header:
        columns = [["x"]]
    new, old = both_reads(write(columns, header))
    # None: fastexcel could not read the sheet (an empty one, a panic): the per-cell path reads it.
    assert_same(old if new is None else new, old)


def test_usual_columns_are_read_without_the_per_cell_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text, amounts, identity numbers and dates mixed with text dates (the exports' columns)
    never go cell by cell; a boolean beside the text "true" among dates does, alone."""
    per_cell: list[set[int]] = []
    real = xlsx_columns._per_cell

    def spy(data: bytes, sheet: str, wanted: set[int], height: int) -> object:
        per_cell.append(set(wanted))
        return real(data, sheet, wanted, height)

    monkeypatch.setattr(xlsx_columns, "_per_cell", spy)
    usual: list[list[object]] = [
        ["江门市某公司", "个体户", "", "0012"],
        [2900.0, "18,100.00", 0.30000000000000004, None],
        ["440781198501158936", 440703195903133056.0, "914407037MH4JW1586", None],
        [date(2024, 1, 3), "2024-01-02 00:00:00", "2024/01/05", datetime(2024, 2, 1, 9, 30)],
    ]
    for write in WRITERS:
        new, old = both_reads(write(usual, True))
        assert_same(new, old)
        assert per_cell == []
    mixed: list[list[object]] = [*usual, [True, "true", date(2024, 1, 1), "2024-01-01 00:00:00"]]
    new, old = both_reads(openpyxl_book(mixed, True))
    assert_same(new, old)
    assert per_cell == [{4}]
    assert old.iloc[1:, 4].tolist() == ["是", "true", "2024-01-01", "2024-01-01 00:00:00"]


def test_a_date_column_of_datetime_texts_only_is_read_by_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inline texts spelled like datetimes are found by the scan, with their cells: neither
    column needs the per-cell path."""

    def per_cell(*_: object) -> None:
        raise AssertionError("read cell by cell")

    monkeypatch.setattr(xlsx_columns, "_per_cell", per_cell)
    dates: list[object] = ["2024-01-03 09:15:00", "2024-02-03 09:15:00", None, "2024-01-05"]
    mixed: list[object] = [date(2024, 1, 3), "2024-01-04 00:00:00", date(2024, 1, 5)]
    data = inline_book([dates, mixed], True)
    scan = scan_workbook(data, SHEET)
    assert scan.datetime_texts == {0: {1, 2}, 1: {2}}
    new, old = both_reads(data)
    assert_same(new, old)
    assert old[1].tolist() == ["列1", "2024-01-03", "2024-01-04 00:00:00", "2024-01-05", ""]


def test_sheets_from_2000_rows_are_read_as_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below, the per-cell read costs less than the Arrow read's fixed cost."""
    read: list[int] = []
    real = xlsx_reader.column_grid

    def spy(data: bytes, scan: WorkbookScan) -> pd.DataFrame | None:
        read.append(scan.rows)
        return real(data, scan)

    monkeypatch.setattr(xlsx_reader, "column_grid", spy)
    rows: list[object] = [f"第{i}行" for i in range(xlsx_reader.COLUMNS_FROM_ROWS)]
    small = inline_book([rows[:-1], [float(i) for i in range(len(rows) - 1)]], False)
    big = inline_book([rows, [float(i) for i in range(len(rows))]], False)
    for data in (small, big):
        assert_same(xlsx_grid(data, SOURCES["cases"], []), cell_grid(data, SHEET))
    assert read == [xlsx_reader.COLUMNS_FROM_ROWS]


def test_iso_date_cells_are_read_cell_by_cell() -> None:
    book = openpyxl.Workbook(iso_dates=True)
    ws = book.active
    assert ws is not None
    ws.title = "案件列表"
    ws["A1"], ws["A2"], ws["A3"] = "立案日期", datetime(2024, 1, 2, 10, 0), "x"
    buf = io.BytesIO()
    book.save(buf)
    data = buf.getvalue()
    assert scan_workbook(data, "案件列表").iso_dates
    grid = xlsx_grid(data, SOURCES["cases"], [])
    assert grid[0].tolist() == ["立案日期", "2024-01-02", "x"]


@pytest.mark.samples  # deselected (not skipped) where the customer's samples are absent
@pytest.mark.parametrize("path", sorted(SAMPLES.rglob("*.xlsx")), ids=lambda p: p.name)
def test_sample_workbooks_read_the_same_both_ways(path: Path) -> None:
    data = path.read_bytes()
    source = SOURCES[path.parent.name]
    scan = scan_workbook(data, source.sheet)
    new = column_grid(data, scan)
    assert_same(new, cell_grid(data, scan.sheet))
    assert_same(xlsx_grid(data, source, []), cell_grid(data, scan.sheet))
