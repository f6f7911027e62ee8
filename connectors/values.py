"""Common value rules of the contract, vectorized over pandas Series.

Every parser takes a Series of normalized text (missing = NA) and returns the parsed Series
plus a boolean Series `ok` (True where the cell is blank or parsed). No per-row Python on the
hot path: the big sources have millions of rows.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.bureau_time import BUREAU_TZ_NAME

_FULLWIDTH = {0xFF10 + i: 0x30 + i for i in range(10)}
_FULLWIDTH |= {0xFF21 + i: 0x41 + i for i in range(26)}
_FULLWIDTH |= {0xFF41 + i: 0x61 + i for i in range(26)}
FULLWIDTH_TABLE = str.maketrans({chr(k): chr(v) for k, v in _FULLWIDTH.items()})
# Cells that need more than an ASCII trim: an ideographic space or a full-width digit/letter.
_SPECIAL_CLASS = "[\u3000\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]"
STRIP_CHARS = " \t\r\n\u3000"
ASCII_STRIP_CHARS = " \t\r\n"
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas 3's "str"
REPEAT_SAMPLE = 1024  # first cells of a column looked at before dictionary-encoding it


def normalize_text(values: pd.Series) -> pd.Series:
    """Strip ASCII and full-width spaces, full-width digits/letters to ASCII; blank -> NA.

    In Arrow compute, on each distinct value once when values repeat (types, towns,
    channels); the full strip is needed only when a column holds an ideographic space.
    """
    arr = pa.array(values.astype("str"))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if _may_repeat(arr):
        encoded = pc.dictionary_encode(arr)
        if len(encoded.dictionary) * 4 < len(arr):
            normalized = _normalize_arrow(encoded.dictionary)
            # Mostly the values are already clean: then the column is kept as it is.
            out = (
                arr
                if normalized.equals(encoded.dictionary)
                else pc.take(normalized, encoded.indices)
            )
            return pd.Series(out, dtype=TEXT, index=values.index)
    return pd.Series(_normalize_arrow(arr), dtype=TEXT, index=values.index)


def _may_repeat(arr: pa.Array) -> bool:
    """Whether encoding the column is worth a try: not when its first cells hardly repeat
    (keys, names), where the hash table of every cell would be built for nothing."""
    if len(arr) <= REPEAT_SAMPLE:
        return True
    return len(pc.unique(arr.slice(0, REPEAT_SAMPLE))) * 2 <= REPEAT_SAMPLE


def _normalize_arrow(arr: pa.Array) -> pa.Array:
    """ASCII spaces trimmed in Arrow; only the cells holding an ideographic space or a
    full-width digit or letter go through Python (`_narrow`)."""
    out = pc.ascii_trim(arr, characters=ASCII_STRIP_CHARS)
    non_ascii = pc.invert(pc.string_is_ascii(arr)).fill_null(False)
    wide = int(pc.sum(non_ascii).as_py() or 0)
    if wide:
        # The pattern is looked for in the non-ASCII cells only (a column of codes holds a
        # few); scanning a column that is all non-ASCII (names) directly skips the copy.
        if wide * 2 < len(arr):
            special = pc.match_substring_regex(pc.filter(arr, non_ascii), _SPECIAL_CLASS)
            mask = pc.replace_with_mask(non_ascii, non_ascii, special)
        else:
            mask = pc.match_substring_regex(arr, _SPECIAL_CLASS).fill_null(False)
        if pc.any(mask).as_py():
            narrowed = [_narrow(v) for v in pc.filter(arr, mask).to_pylist()]
            out = pc.replace_with_mask(out, mask, pa.array(narrowed, type=arr.type))
    blank = pc.equal(out, "")
    if pc.any(blank).as_py():
        out = pc.if_else(blank, pa.scalar(None, arr.type), out)
    return out


def _narrow(cell: str) -> str:
    return cell.strip(STRIP_CHARS).translate(FULLWIDTH_TABLE)


def string_array(values: object) -> pa.Array:
    """A (large_)string Arrow array, one chunk (a text Series' own buffers when it has one)."""
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise TypeError(f"not a string array: {arr.type}")
    return arr


def replace_synonyms(text: pd.Series, synonyms: dict[str, str]) -> pd.Series:
    """Cells equal to a synonym become its canonical value, in one Arrow look-up (pandas'
    `replace` copies the column once per synonym)."""
    arr = string_array(text.astype("str"))
    at = pc.index_in(arr, value_set=pa.array(list(synonyms), type=arr.type))
    hit = pc.is_valid(at)
    if not pc.any(hit).as_py():
        return text
    canonical = pc.take(pa.array(list(synonyms.values()), type=arr.type), at)
    return pd.Series(pc.if_else(hit, canonical, arr), dtype=TEXT, index=text.index)


_DATE_RE = (
    r"^(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})"
    r"|(?P<y4>\d{4})/(?P<m4>\d{1,2})/(?P<d4>\d{1,2})"
    r"|(?P<y5>\d{4})\.(?P<m5>\d{1,2})\.(?P<d5>\d{1,2})"
    r"|(?P<y2>\d{4})(?P<m2>\d{2})(?P<d2>\d{2})"
    r"|(?P<y3>\d{4})年(?P<m3>\d{1,2})月(?P<d3>\d{1,2})日)"
    # An optional time of day that exists (` 8:30`, ` 08:30`, ` 23:59:59`), then ignored.
    r"(?: (?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?)?$"
)


def _assemble_dates(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    """Build dates from parts; impossible dates (2024-02-30, year 0) become NaT."""
    years = pd.to_numeric(year, errors="coerce")
    parts = pd.DataFrame(
        {
            "year": years.where(years >= 1),  # no year 0: Python's dates start at 1
            "month": pd.to_numeric(month, errors="coerce"),
            "day": pd.to_numeric(day, errors="coerce"),
        }
    )
    return pd.to_datetime(parts, errors="coerce").astype("datetime64[s]")


MEMO_LIMIT = 1 << 16  # distinct texts remembered per parser before the memo starts afresh


def on_distinct_values(
    parse: Callable[[pd.Series], tuple[pd.Series, pd.Series]],
) -> Callable[[pd.Series], tuple[pd.Series, pd.Series]]:
    """Parse each distinct text once: a million dates hold a few thousand distinct values.

    The texts parsed are remembered across calls (up to MEMO_LIMIT): a file is parsed a block
    at a time, and each block would otherwise pay pandas' fixed cost of the parse again for the
    same few hundred spellings. `parse` must be elementwise, and its missing value NaT.
    """
    memo: dict[str, tuple[Any, bool]] = {}
    lock = threading.Lock()
    dtype: list[np.dtype] = []  # the dtype of `parse`'s values, known after its first call

    def parse_new(texts: list[str]) -> None:
        value, ok = parse(pd.Series(texts, dtype="str"))
        if not dtype:
            dtype.append(value.dtype)
        pairs = zip(value.to_numpy(), ok.to_numpy(dtype=bool), strict=True)
        memo.update(zip(texts, pairs, strict=True))

    @functools.wraps(parse)
    def wrapper(text: pd.Series) -> tuple[pd.Series, pd.Series]:
        codes, distinct = pd.factorize(text, use_na_sentinel=True)
        if len(distinct) * 4 > len(text):
            return parse(text)
        keys = list(distinct)
        with lock:  # the reader may run beside another file's reader in threads
            new = [k for k in keys if k not in memo]
            if len(memo) + len(new) > MEMO_LIMIT:
                memo.clear()
                new = keys
            if new or not dtype:
                parse_new(new)
            parsed = [memo[k] for k in keys]
        # One more entry for the missing cells (code -1): NaT, and ok.
        values = np.array([*(v for v, _ in parsed), np.datetime64("NaT")], dtype=dtype[0])
        oks = np.array([*(o for _, o in parsed), True], dtype=bool)
        return pd.Series(values[codes], index=text.index), pd.Series(oks[codes], index=text.index)

    return wrapper


FEW_CELLS = 512  # up to this many cells, dates are parsed cell by cell in Python
_DATE_SEARCH = re.compile(_DATE_RE)  # pandas' `str.extract` searches with Python's `re` too
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_NAT = np.datetime64("NaT", "s")


@on_distinct_values
def parse_dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The six date spellings of the contract (+ Excel cells rendered as ISO by the reader).

    A block usually brings a few spellings not seen before: for those, pandas' fixed cost per
    call (≈ 9 ms) is most of the work, so few cells are parsed one by one, the same rule."""
    if len(text) <= FEW_CELLS:
        return _dates_by_cell(text)
    return _dates_by_column(text)


def _dates_by_column(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    present = text.notna()
    if present.any():
        m = text[present].str.extract(_DATE_RE)
        y, mo, d = (
            m[f"{part}1"]
            .fillna(m[f"{part}2"])
            .fillna(m[f"{part}3"])
            .fillna(m[f"{part}4"])
            .fillna(m[f"{part}5"])
            for part in "ymd"
        )
        out[present] = _assemble_dates(y, mo, d)
    return out, ~present | out.notna()


def _dates_by_cell(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    present = text.notna().to_numpy(dtype=bool)
    out = np.full(len(text), _NAT)
    for i, cell in enumerate(text.tolist()):
        if present[i] and (m := _DATE_SEARCH.search(cell)) is not None:
            parts = m.groupdict()
            found = next(k for k in "12345" if parts[f"y{k}"] is not None)
            out[i] = _calendar_day(parts[f"y{found}"], parts[f"m{found}"], parts[f"d{found}"])
    return pd.Series(out, index=text.index), pd.Series(~present | ~np.isnat(out), index=text.index)


def _calendar_day(year: str, month: str, day: str) -> np.datetime64:
    """What `_assemble_dates` makes of the parts: NaT unless ASCII digits (`re`'s \\d also
    matches other scripts' digits, which pandas' `to_numeric` refuses) of a real day."""
    if not (year.isascii() and month.isascii() and day.isascii()):
        return _NAT
    y, m, d = int(year), int(month), int(day)
    if y < 1 or not 1 <= m <= 12:
        return _NAT
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= d <= (29 if m == 2 and leap else _MONTH_DAYS[m - 1]):
        return _NAT
    return np.datetime64(f"{y:04d}-{m:02d}-{d:02d}", "s")


_MONTH_RE = r"^(?P<y>\d{4})(?:[-/](?P<m1>\d{1,2})|年(?P<m2>\d{1,2})月)$"


@on_distinct_values
def parse_months(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`2024-10`, `2024-1`, `2024/10`, `2024年10月` -> the month's first day."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    present = text.notna()
    if present.any():
        m = text[present].str.extract(_MONTH_RE)
        one = pd.Series("1", index=m.index)
        out[present] = _assemble_dates(m["y"], m["m1"].fillna(m["m2"]), one.where(m["y"].notna()))
    return out, ~present | out.notna()


def parse_epoch_ms_dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Epoch milliseconds (UTC instants) -> the Asia/Shanghai calendar date."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    present = text.notna()
    if present.any():
        digits = text[present].where(text[present].str.fullmatch(r"-?\d{1,15}(?:\.0+)?"))
        ms = pd.to_numeric(digits.str.replace(r"\.0+$", "", regex=True), errors="coerce")
        valid = ms.notna() & ms.between(-(10**14), 10**14)
        instants = pd.to_datetime(ms[valid].astype("int64"), unit="ms", utc=True)
        local = instants.dt.tz_convert(BUREAU_TZ_NAME).dt.tz_localize(None).dt.normalize()
        local = local[local.dt.year.between(1, 9999)]  # what a date (and the warehouse) holds
        out[local.index] = local.astype("datetime64[s]")
    return out, ~present | out.notna()


_INT_RE = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?"


def parse_ints(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Non-negative integers, thousands separators allowed; negatives are rejected."""
    out = pd.Series(pd.NA, index=text.index, dtype="Int64")
    present = text.notna()
    if present.any():
        t = text[present]
        good = t.str.fullmatch(_INT_RE)
        cleaned = t[good].str.replace(",", "", regex=False).str.replace(r"\.0+$", "", regex=True)
        # Values beyond int64 are not counts; leave them unparsed.
        short = cleaned.str.len() <= 18
        out[cleaned[short].index] = cleaned[short].astype("int64")
    return out, ~present | out.notna()


_DECIMAL_RE = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d{1,3})?"

# What the warehouse stores exactly (NUMERIC(20, 4), Arrow decimal128(20, 4)). A value that
# needs more is rejected as `bad_number`, never rounded to fit. At most 12 integer digits (a
# trillion): SQLite keeps 1/10^4 units in a 64-bit integer, whose sums must not overflow
# either (≈ 900 such amounts fit), and the verdict must not depend on the backend.
AMOUNT_DIGITS = 20
AMOUNT_SCALE = 4
_AMOUNT_LIMIT = Decimal(10) ** 12


def _to_decimal(value: str) -> Decimal | None:
    try:
        result = Decimal(value)
    except InvalidOperation:
        return None
    if not result.is_finite() or abs(result) >= _AMOUNT_LIMIT:
        return None
    if result and int(result.normalize().as_tuple().exponent) < -AMOUNT_SCALE:
        return None  # `12.50000` is kept (12.5); `772.5500000000001` is not rounded
    return result


def parse_decimals(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Exact decimals (thousands separators allowed), never through binary floats; only those
    the warehouse can hold exactly parse (at most 4 decimal places, 12 integer digits)."""
    out = pd.Series(None, index=text.index, dtype=object)
    present = text.notna()
    if present.any():
        t = text[present]
        good = t.str.fullmatch(_DECIMAL_RE)
        cleaned = t[good].str.replace(",", "", regex=False)
        out[cleaned.index] = [_to_decimal(v) for v in cleaned.tolist()]
    return out, ~present | out.notna()


def excel_cell_text(value: object) -> str:
    """An XLSX cell as the text the value rules read.

    Dates become ISO dates (the time part is ignored); a numeric cell goes through its
    shortest round-trip decimal text (`repr`), never through binary arithmetic.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, time):
        return value.isoformat()
    return str(value)


def float_texts(v: np.ndarray) -> pa.Array:
    """`excel_cell_text` of each float of a column at once (JSON numbers read the same way):
    `str(int(v))` for integral values below 1e16 in magnitude, else `repr(v)`."""
    whole = (np.floor(v) == v) & (np.abs(v) < 1e16)
    out = np.empty(len(v), dtype=object)
    out[whole] = list(map(str, v[whole].astype(np.int64).tolist()))
    out[~whole] = list(map(repr, v[~whole].tolist()))
    return pa.array(out, type=pa.large_string())


def as_python_dates(values: pd.Series) -> pd.Series:
    """datetime64 -> python `date` objects (object dtype), NaT -> None."""
    out = pd.Series(None, index=values.index, dtype=object)
    present = values.notna()
    if present.any():
        out[present] = values[present].dt.date
    return out


def contains_any(values: pd.Series, allowed: frozenset[str] | set[str]) -> pd.Series:
    return values.isin(list(allowed)).fillna(False).astype(bool)


def to_numpy_bool(values: pd.Series) -> np.ndarray:
    return values.fillna(False).to_numpy(dtype=bool)
