"""The declared sheet as Arrow columns (fastexcel), with exactly the texts of the per-cell path.

python-calamine's `to_python` makes one Python object per cell; fastexcel hands the same cells
(calamine underneath) to Arrow in Rust. It is read once with every column as text: a text cell
is its own text, but a number, date or boolean cell comes out in fastexcel's spelling
(`1.5` rounded to 9 decimals, `2024-01-02 03:04:05`, `true`), which is not the text a
spreadsheet shows. So each column's texts are matched against those spellings (Arrow regex, in
C): a column where none occurs holds text cells only and is taken as it is, which is the usual
case of the text columns. Where the scan found no text cell with such a spelling, or located
every one (inline strings), the spelling tells the cell's type. The others are read a second
time by type, those columns only (amounts as float, date columns as datetime), and each cell's
type is told apart by whether it converts: a number cell then gets the text of
`excel_cell_text`, a date cell its ISO date. What the two reads
cannot tell apart (a boolean cell beside the text "true" in a date column, a number shown one
way and typed another, a time of day, an error other than a cell error) sends that column, and
only that column, through the per-cell path (`connectors.xlsx_cells.text_column`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.raw_table import FileRejected
from connectors.values import float_texts
from connectors.xlsx_cells import STR_DTYPE, TEXT, sheet_cells, text_column
from connectors.xlsx_scan import WorkbookScan

# fastexcel's texts of cells that are not text cells (calamine's `Display` of each type).
_NUMBER = r"-?\d+(\.\d+)?"
_DATETIME = r"[+-]?\d{4,}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?"
_BOOL = "true|false"
_NUMERIC = f"{_NUMBER}|-?inf|NaN"
_SPELLED = f"^({_NUMERIC}|{_DATETIME}|{_BOOL})$"
# A date cell read as datetime: before 1904-01-02 it may be a time of day (the per-cell path
# gives a `time` below serial 1, in either date system); beyond year 9999 a plain number.
_FIRST_DAY = pa.scalar(np.datetime64("1904-01-02", "ms"))
_LAST_DAY = pa.scalar(np.datetime64("9999-12-31T23:59:59.999", "ms"))
_DAYS_AS_DATES = 9e7  # any number below converts to a datetime (chrono goes to year 262143)
_EXACT = float(2**24)  # from here on a double's 9-decimal spelling reads back as itself


def _failed(exc: BaseException) -> bool:
    """What fastexcel may raise: its errors, and a Rust panic (pyo3's PanicException derives
    from BaseException), e.g. on a duration out of chrono's range; not an interrupt."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


class MixedColumn(Exception):
    """The two reads do not tell every cell's type: the column goes through the per-cell path."""


def column_grid(data: bytes, scan: WorkbookScan) -> pd.DataFrame | None:
    """The sheet's grid of texts as `text_grid` makes it, or None when fastexcel cannot read
    the sheet (the caller then reads it cell by cell, with that path's own verdict).
    The scan says which datetime and boolean spellings text cells may have, and where the
    datetime ones are: any other such spelling is a cell of that type."""
    import fastexcel

    sheet = scan.sheet
    try:
        reader = fastexcel.read_excel(data)
        loaded = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string")
        indices = [c.absolute_index for c in loaded.selected_columns]
        batch, errors = loaded.to_arrow_with_errors()
    except BaseException as exc:  # a failure: the per-cell path gives its verdict, as always
        if not _failed(exc):
            raise
        return None
    del loaded
    if batch.num_rows == 0 or not indices:
        return None
    per_cell = _uncertain_columns(errors, indices)
    columns: dict[int, pa.Array] = {}
    spelled = {}
    for i, index in enumerate(indices):
        texts = batch.column(i).cast(TEXT)
        if index in per_cell:
            continue
        if not pc.any(pc.match_substring_regex(texts, _SPELLED)).as_py():
            columns[index] = texts.fill_null("")
            continue
        try:
            replace = _by_spelling(texts, scan, index)
        except MixedColumn:
            per_cell.add(index)
            continue
        if replace is None:
            spelled[index] = texts
        else:
            columns[index] = _replaced(texts, replace)
    probe = _typed(reader, sheet, spelled) if spelled else {}
    for index, texts in spelled.items():
        try:
            columns[index] = _resolved(texts, probe.pop(index, None))
        except MixedColumn:
            per_cell.add(index)
    batch_rows = batch.num_rows
    del batch, probe
    if per_cell:
        cells = _per_cell(data, sheet, per_cell, batch_rows)
        if cells is None:
            return None
        columns.update(cells)
    return _frame(columns, max(indices) + 1, batch_rows)


def _uncertain_columns(errors: object, indices: list[int]) -> set[int]:
    """Columns with a cell fastexcel could not spell that is not a cell error (#DIV/0!... read
    as blank by both paths): a date out of calamine's range is a number for the per-cell path."""
    out: set[int] = set()
    for error in getattr(errors, "errors", None) or []:
        if "Error(" not in error.detail:
            out.add(indices[error.position[1]])
    return out


def _probe(texts: pa.Array) -> str:
    """How the second read takes a column: a date column (any datetime spelling) as datetime;
    one whose number spellings are all at least 2**24 (identity numbers) as boolean, which
    converts exactly the number and boolean cells (their value is their 9-decimal spelling:
    a double that large has no digits beyond it); any other as float, for the exact values."""
    if _any(texts, _DATETIME):
        return "datetime"
    numbers = texts.filter(pc.match_substring_regex(texts, f"^({_NUMERIC})$"))
    values = np.abs(numbers.cast(pa.float64()).to_numpy(zero_copy_only=False))
    return "boolean" if (values >= _EXACT).all() else "float"


def _typed(reader: object, sheet: str, spelled: dict[int, pa.Array]) -> dict[int, pa.Array]:
    """The second read, of the columns with non-text spellings only: a cell that does not
    convert (a text cell) is null there."""
    dtypes = {index: _probe(texts) for index, texts in spelled.items()}
    try:
        typed = reader.load_sheet(  # type: ignore[attr-defined]
            sheet,
            header_row=None,
            skip_rows=0,
            use_columns=sorted(dtypes),
            dtypes=dtypes,
        )
        indices = [c.absolute_index for c in typed.selected_columns]
        batch, _ = typed.to_arrow_with_errors()
    except BaseException as exc:
        if not _failed(exc):
            raise
        return {}
    return {index: batch.column(i) for i, index in enumerate(indices)}


def _any(texts: pa.Array, pattern: str) -> bool:
    return bool(pc.any(pc.match_substring_regex(texts, f"^({pattern})$")).as_py())


def _mask(texts: pa.Array, pattern: str) -> np.ndarray:
    hits = pc.match_substring_regex(texts, f"^({pattern})$").fill_null(False)
    return np.asarray(hits.to_numpy(zero_copy_only=False), dtype=bool)


def _resolved(texts: pa.Array, typed: pa.Array | None) -> pa.Array:
    """A column with non-text spellings: each such cell's type from the typed read."""
    if typed is None:
        raise MixedColumn
    if pa.types.is_timestamp(typed.type):
        replace = _date_cells(texts, typed)
    elif pa.types.is_boolean(typed.type):
        replace = _flagged_cells(texts, typed)
    else:
        replace = _number_cells(texts, typed)
    return _replaced(texts, replace)


def _replaced(texts: pa.Array, replace: Replacement) -> pa.Array:
    for where, values in replace:
        if where.any():
            texts = pc.replace_with_mask(texts, pa.array(where), values)
    return texts.fill_null("")


def _by_spelling(texts: pa.Array, scan: WorkbookScan, index: int) -> Replacement | None:
    """The texts of a column's non-text spellings when the spelling alone tells the cell's type
    (None: it does not, the column is read a second time by type). A datetime or boolean
    spelling no text cell of the workbook has is a date or boolean cell; a number spelling
    whose number text is the spelling itself gives that text whatever the cell, and from 2**24
    on the spelling is the exact value of a number cell."""
    out: Replacement = []
    when = _mask(texts, _DATETIME)
    if when.any() and "datetime" in scan.look_alike:
        if scan.datetime_texts is None:
            return None
        rows = np.fromiter(scan.datetime_texts.get(index, ()), dtype=np.int64)
        when[rows[rows < len(when)]] = False  # text cells: their own text
    if when.any():
        stamps = texts.filter(pa.array(when))
        dates = pc.utf8_slice_codeunits(stamps, 0, 10)
        if not _in_date_range(stamps, dates):
            raise MixedColumn
        out.append((when, dates))
    flags = _mask(texts, _BOOL)
    if flags.any():
        if "bool" in scan.look_alike:
            return None
        yes = np.asarray(
            pc.equal(texts.filter(pa.array(flags)), "true").to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        out.append((flags, pa.array(np.where(yes, "是", "否"), type=TEXT)))
    numbers = _mask(texts, _NUMERIC)
    if numbers.any():
        spelled = texts.filter(pa.array(numbers))
        values = spelled.cast(pa.float64()).to_numpy(zero_copy_only=False)
        if not (np.abs(values) >= _EXACT).all():
            return None
        if not pc.all(pc.equal(float_texts(values), spelled)).as_py():
            return None
    return out


def _in_date_range(stamps: pa.Array, dates: pa.Array) -> bool:
    """Spelled dates from 1904-01-02 to year 9999 (below serial 1 the per-cell path gives a
    time of day; a five-digit year is a number to it)."""
    four_digits = pc.all(pc.match_substring_regex(stamps, r"^\d{4}-")).as_py()
    return bool(four_digits) and pc.min(dates).as_py() >= "1904-01-02"


Replacement = list[tuple[np.ndarray, pa.Array]]


def _valid(values: pa.Array) -> np.ndarray:
    return np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def _date_cells(texts: pa.Array, typed: pa.Array) -> Replacement:
    """Date column: a cell spelled as a datetime that converts is a date cell (its ISO date);
    one spelled as a number that converts is a number cell (its exact value is not read), and
    so may be one that does not when it is beyond the dates calamine makes of a number."""
    converts = _valid(typed)
    numbers = _mask(texts, _NUMERIC)
    if (numbers & converts).any() or _any(texts, _BOOL):
        raise MixedColumn  # a number or boolean cell among dates: told apart cell by cell
    if numbers.any():
        values = texts.filter(pa.array(numbers)).cast(pa.float64()).to_numpy(zero_copy_only=False)
        if not (np.abs(values) < _DAYS_AS_DATES).all():
            raise MixedColumn
    where = _mask(texts, _DATETIME) & converts
    if not where.any():
        return []
    stamps = typed.filter(pa.array(where))
    early = pc.any(pc.less(stamps, _FIRST_DAY)).as_py()
    if early or pc.any(pc.greater(stamps, _LAST_DAY)).as_py():
        raise MixedColumn
    return [(where, pc.cast(stamps, pa.date32(), safe=False).cast(TEXT))]


def _number_cells(texts: pa.Array, typed: pa.Array) -> Replacement:
    """Number column: a cell spelled as a number is a number cell or a text that reads as one.
    Where the number's text is the spelling itself both give the same text; a text differing
    from the number's 9-decimal spelling is a text cell; the rest are not told apart."""
    converts = _valid(typed)
    flags = _mask(texts, _BOOL)
    numbers = _mask(texts, _NUMERIC)
    if (numbers & ~converts).any():
        raise MixedColumn  # a number spelling that does not convert: not a case calamine makes
    out: Replacement = []
    booleans = flags & converts
    if booleans.any():
        ones = typed.filter(pa.array(booleans)).to_numpy(zero_copy_only=False)
        out.append((booleans, pa.array(np.where(ones != 0, "是", "否"), type=TEXT)))
    if not numbers.any():
        return out
    values = typed.filter(pa.array(numbers)).to_numpy(zero_copy_only=False)
    if not np.isfinite(values).all():
        raise MixedColumn
    shown = float_texts(values)
    spelled = texts.filter(pa.array(numbers))
    differ = np.flatnonzero(~np.asarray(pc.equal(shown, spelled).to_numpy(zero_copy_only=False)))
    if len(differ):
        raw = spelled.take(pa.array(differ)).to_pylist()
        if any(map(_is_nine_decimals, values[differ].tolist(), raw)):
            raise MixedColumn  # a number cell shown another way, or a text spelled like one
    number_cells = numbers.copy()
    number_cells[np.flatnonzero(numbers)[differ]] = False  # text cells keep their own text
    if number_cells.any():
        keep = np.ones(len(values), dtype=bool)
        keep[differ] = False
        out.append((number_cells, shown.filter(pa.array(keep))))
    return out


def _flagged_cells(texts: pa.Array, typed: pa.Array) -> Replacement:
    """Column read as boolean: the cells that convert are the number and boolean cells."""
    cells = _valid(typed)
    out: Replacement = []
    booleans = _mask(texts, _BOOL) & cells
    if booleans.any():
        ones = typed.filter(pa.array(booleans)).to_numpy(zero_copy_only=False)
        out.append((booleans, pa.array(np.where(ones, "是", "否"), type=TEXT)))
    numbers = _mask(texts, _NUMERIC) & cells
    if numbers.any():
        values = texts.filter(pa.array(numbers)).cast(pa.float64()).to_numpy(zero_copy_only=False)
        out.append((numbers, float_texts(values)))
    return out


def _is_nine_decimals(value: float, text: str) -> bool:
    """Whether `text` is fastexcel's spelling of the number `value` (Rust `{:.9}`, trimmed)."""
    spelled = f"{value:.9f}".rstrip("0").rstrip(".")
    return spelled == text


def _per_cell(data: bytes, sheet: str, wanted: set[int], height: int) -> dict[int, pa.Array] | None:
    """The per-cell path for the columns the typed reads cannot settle (None: its sheet is not
    the same height, so the whole sheet goes that way)."""
    try:
        rows = sheet_cells(data, sheet)
    except FileRejected:
        return None
    if len(rows) != height:
        return None
    out = {}
    for j in sorted(wanted):
        out[j] = text_column([row[j] if j < len(row) else "" for row in rows])
    return out


def _frame(columns: dict[int, pa.Array], width: int, height: int) -> pd.DataFrame:
    blank = pa.array([""] * height, type=TEXT) if len(columns) < width else None
    frame = pd.DataFrame(
        {j: pd.Series(columns.get(j, blank), dtype=STR_DTYPE) for j in range(width)},
        index=pd.RangeIndex(height),
    )
    frame.columns = pd.RangeIndex(width)
    return frame
