"""XLSX cells -> text cells, a column at a time, converted by cell type in bulk.

The texts are exactly those of `connectors.values.excel_cell_text` applied cell by cell, but a
column of str cells goes to Arrow in one call, and in a mixed column the cells are grouped by
their Python type and each group is converted in one go (Arrow casts for dates, NumPy for
floats), so the per-cell work stays in C.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from itertools import chain, repeat
from operator import attrgetter
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.raw_table import FileRejected
from connectors.values import excel_cell_text, float_texts

TEXT = pa.large_string()
STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
# Cells are grouped by their exact Python type; any other type goes through `excel_cell_text`.
_KIND_CODES: dict[type, int] = {str: 0, date: 1, datetime: 2, float: 3, bool: 4}
_OTHER = len(_KIND_CODES)


_Row = TypeVar("_Row", bound=Sequence[object])


def sheet_cells(data: bytes, sheet_name: str) -> list[Any]:
    """The sheet's rows of Python cells (python-calamine), from A1 to its last cell."""
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises several error types for broken zips/XML
        raise FileRejected(
            "unreadable", f"not a readable XLSX workbook ({type(exc).__name__})"
        ) from None
    try:
        rows: list[Any] = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    except Exception as exc:
        raise FileRejected(
            "unreadable", f"sheet {sheet_name!r} cannot be read ({type(exc).__name__})"
        ) from None
    return rows


def text_grid(rows: list[_Row]) -> pd.DataFrame:
    """Rows of cells (as `CalamineSheet.to_python` gives them) -> a frame of text cells.

    Columns 0..n-1, every cell a str, "" for empty; short rows are padded with "".
    `rows` is emptied: the cells are released column by column as their texts are built, so
    the Python cells and their texts are not held in full at the same time.
    """
    height = len(rows)
    width = max(map(len, rows), default=0)
    if len(set(map(len, rows))) > 1:
        padded = ([*row, *[""] * (width - len(row))] for row in rows)
        cells: list[object] = list(chain.from_iterable(padded))
    else:
        cells = list(chain.from_iterable(rows))  # row-major: column j is cells[j::width]
    rows.clear()
    columns = {}
    for j in range(width):
        columns[j] = pd.Series(text_column(cells[j::width]), dtype=STR_DTYPE)
        cells[j::width] = [None] * height
    grid = pd.DataFrame(columns, index=pd.RangeIndex(height))
    grid.columns = pd.RangeIndex(width)
    return grid


def text_column(cells: list[object]) -> pa.Array:
    """One column of cells -> an Arrow large_string array of their texts (no nulls).

    `cells` are what python-calamine gives (str, float, int, bool, date, datetime, time,
    timedelta, or None), never bytes: a column Arrow takes as text as a whole is all str/None.
    """
    try:
        texts = pa.array(cells, type=TEXT)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    else:
        return texts.fill_null("") if texts.null_count else texts
    codes = np.fromiter(
        map(_KIND_CODES.get, map(type, cells), repeat(_OTHER)), dtype=np.int8, count=len(cells)
    )
    is_str = codes == _KIND_CODES[str]
    texts = pa.array(cells, type=TEXT, mask=~is_str)
    for code in np.unique(codes[~is_str]).tolist():
        where = codes == code
        values = np.empty(int(where.sum()), dtype=object)
        values[:] = list(map(cells.__getitem__, np.flatnonzero(where).tolist()))
        texts = pc.replace_with_mask(texts, pa.array(where), _texts(code, values))
    return texts


def _texts(code: int, values: np.ndarray) -> pa.Array:
    """Cells all of the Python type numbered `code` -> their texts."""
    if code == _KIND_CODES[date]:
        return pa.array(values, type=pa.date32()).cast(TEXT)
    if code == _KIND_CODES[datetime] and set(map(attrgetter("tzinfo"), values)) == {None}:
        # The date of a naive datetime: truncation to the day (floor, also before 1970).
        stamps = pa.array(values, type=pa.timestamp("us"))
        return pc.cast(stamps, pa.date32(), safe=False).cast(TEXT)
    if code == _KIND_CODES[float]:
        return float_texts(values.astype(np.float64))
    if code == _KIND_CODES[bool]:
        return pa.array(np.where(values.astype(bool), "是", "否"), type=TEXT)
    return pa.array(list(map(excel_cell_text, values)), type=TEXT)
