"""The XLSX grid: bulk conversion by cell type gives exactly the per-cell texts."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.raw_table import FileRejected
from connectors.sources import SOURCES
from connectors.values import excel_cell_text
from connectors.xlsx_cells import text_column, text_grid
from connectors.xlsx_reader import xlsx_grid

CASES = SOURCES["cases"]


def reference_grid(rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """The former implementation: `excel_cell_text` cell by cell."""
    text_rows = [[excel_cell_text(cell) for cell in row] for row in rows]
    grid = pd.DataFrame(text_rows, dtype=object).fillna("").astype("str")
    grid.columns = range(grid.shape[1])
    return grid


def assert_same_grid(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_column_type=True)
    assert type(got.columns) is type(want.columns)
    assert type(got.index) is type(want.index)
    assert got.to_numpy().tolist() == want.to_numpy().tolist()


def workbook(
    rows: dict[str, object],
    sheet: str = "案件列表",
    merge: str | None = None,
    extra: dict[str, dict[str, object]] | None = None,
) -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    for ref, value in rows.items():
        ws[ref] = value
    if merge:
        ws.merge_cells(merge)
    for name, cells in (extra or {}).items():
        more = book.create_sheet(name)
        for ref, value in cells.items():
            more[ref] = value
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


EDGE_CELLS = {
    "A1": "标题",
    # row 2 blank
    "A3": 0.1,
    "B3": 1e20,
    "C3": 3.0,
    "D3": -0.0,
    "A4": 12345678901234567,
    "B4": 2**53 + 1,
    "C4": 1e16,
    "D4": 9999999999999998.0,
    "A5": date(2024, 1, 2),
    "B5": datetime(2024, 3, 4, 15, 16, 17),
    "C5": time(13, 14, 15),
    "D5": datetime(1969, 12, 31, 23, 59, 59),
    "A6": True,
    "B6": False,
    "C6": "",
    "D6": "2024-01-02 00:00:00",
    "A7": -2.5,
    "B7": 1.5e-5,
    "C7": -123.0,
    "D7": "是",
    "A9": "row 9 after a blank row",
}


def test_edge_cells_match_the_per_cell_texts() -> None:
    data = workbook(EDGE_CELLS)
    import python_calamine

    rows = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    cells = rows.get_sheet_by_name("案件列表").to_python(skip_empty_area=False)
    grid = xlsx_grid(data, CASES, [])
    assert_same_grid(grid, reference_grid(cells))
    assert grid.shape == (9, 4)
    assert grid.iloc[1].tolist() == ["", "", "", ""]
    assert grid.iloc[2].tolist() == ["0.1", "1e+20", "3", "0"]
    assert grid.iloc[3].tolist() == [
        "1.234567890123457e+16",
        "9007199254740992",
        "1e+16",
        "9999999999999998",
    ]
    assert grid.iloc[4].tolist() == ["2024-01-02", "2024-03-04", "13:14:15", "1969-12-31"]
    assert grid.iloc[5].tolist() == ["是", "否", "", "2024-01-02 00:00:00"]
    assert grid.iloc[6].tolist() == ["-2.5", "1.5e-05", "-123", "是"]
    assert grid.iloc[8].tolist() == ["row 9 after a blank row", "", "", ""]


def test_leading_blank_area_merged_cells_and_trailing_empty_columns() -> None:
    data = workbook(
        {"C3": "案件编号", "D3": "x", "C5": date(2024, 5, 6), "F5": "", "H4": 7.0},
        merge="C3:D3",
    )
    grid = xlsx_grid(data, CASES, [])
    assert grid.iloc[2, 2] == "案件编号"
    assert grid.iloc[4, 2] == "2024-05-06"
    assert grid.iloc[3, 7] == "7"
    assert grid.shape[0] == 5 and grid.shape[1] >= 8
    assert grid.iloc[0].tolist() == [""] * grid.shape[1]
    assert (grid.dtypes == pd.StringDtype("pyarrow", na_value=float("nan"))).all()


def test_missing_sheet_reads_the_only_one_with_a_warning() -> None:
    warnings: list[str] = []
    grid = xlsx_grid(workbook({"A1": 1.0}, sheet="other"), CASES, warnings)
    assert grid.iloc[0, 0] == "1"
    assert warnings and "not found" in warnings[0]


def test_declared_sheet_is_found_among_several_and_blanks_around_its_name_are_ignored() -> None:
    data = workbook({"A1": "first"}, sheet="汇总", extra={" 案件列表\u3000": {"A1": "cases"}})
    warnings: list[str] = []
    assert xlsx_grid(data, CASES, warnings).iloc[0, 0] == "cases"
    assert warnings == []


def test_missing_sheet_among_several_refuses_the_file() -> None:
    data = workbook({"A1": "first"}, sheet="汇总", extra={"Sheet2": {"A1": "other"}})
    with pytest.raises(FileRejected) as err:
        xlsx_grid(data, CASES, [])
    assert err.value.reason == "unreadable"
    assert "案件列表" in str(err.value) and "2 sheets" in str(err.value)


def test_an_empty_sheet_gives_an_empty_grid() -> None:
    grid = xlsx_grid(workbook({}), CASES, [])
    assert grid.empty


def test_unreadable_bytes_are_rejected() -> None:
    with pytest.raises(FileRejected) as err:
        xlsx_grid(b"PK\x03\x04 not really a zip", CASES, [])
    assert err.value.reason == "unreadable"


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [[]],
        [["a", 1.0], ["b"]],
        [[None, ""], ["", None]],
        [[date(2024, 1, 1)], ["x"], [2.5]],
    ],
)
def test_text_grid_shapes_match_the_reference(rows: list[list[object]]) -> None:
    assert_same_grid(text_grid([list(row) for row in rows]), reference_grid(rows))


ODD_CELLS: list[object] = [
    None,
    "",
    "文本",
    0,
    -7,
    10**20,
    True,
    False,
    0.0,
    -0.0,
    0.1,
    1e16,
    -1e16,
    1e16 - 2,
    1e300,
    5e-324,
    math.inf,
    -math.inf,
    math.nan,
    date(1, 1, 1),
    date(9999, 12, 31),
    datetime(1, 1, 1, 0, 0, 0, 1),
    datetime(1969, 12, 31, 23, 59, 59, 999999),
    datetime(9999, 12, 31, 23, 59, 59, 999999),
    datetime(2024, 1, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
    time(0, 0),
    time(23, 59, 59, 123456),
    timedelta(days=1, seconds=5),
]


def test_odd_cells_match_the_per_cell_texts() -> None:
    cells = ODD_CELLS * 3
    assert text_column(cells).to_pylist() == [excel_cell_text(c) for c in cells]
    for cell in ODD_CELLS:
        assert text_column([cell]).to_pylist() == [excel_cell_text(cell)]


cell_values = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**53), max_value=2**53).map(float),
    st.dates(),
    st.datetimes(),
    st.times(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(cell_values, max_size=40))
def test_any_column_matches_the_per_cell_texts(cells: list[object]) -> None:
    assert text_column(cells).to_pylist() == [excel_cell_text(c) for c in cells]
