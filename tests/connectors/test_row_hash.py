"""Row hashes (connectors.row_hash): equal keys exactly when rows are equal on parsed values.

The reference is the plain per-cell definition over Python values, and the pandas hashing
that row_hash replaces (`_comparison_frame` / `_row_keys` of connectors.extract, frozen
below as `_old_*` so these tests keep checking the equivalence after the swap).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import row_hash, values
from connectors.extract import _duplicated
from connectors.raw_table import StreamFailed
from connectors.readers import read_export
from connectors.rules import Parsed, parse_table
from connectors.sources import SOURCES, Column, Source, boolean, enum

# --- the implementation row_hash replaces (connectors/extract.py before the swap) ---------


def _old_decimal_key(d: Decimal | None) -> str:
    return "" if d is None else str(d.normalize())


def _old_comparison_frame(source: Source, p: Parsed) -> pd.DataFrame:
    cols = {}
    for col in source.columns:
        v = p.value[col.field]
        if col.type == "decimal":
            v = v.map(_old_decimal_key, na_action="ignore").astype("str")
        parsed_hash = pd.util.hash_pandas_object(v, index=False).to_numpy()
        ok = p.ok[col.field].to_numpy(dtype=bool)
        if ok.all():
            cols[col.field] = parsed_hash
            continue
        text = "\x00" + p.text[col.field].fillna("")
        text_hash = pd.util.hash_pandas_object(text, index=False).to_numpy()
        cols[col.field] = np.where(ok, parsed_hash, text_hash)
    return pd.DataFrame(cols, index=p.text.index)


def _old_row_keys(cells: pd.DataFrame) -> np.ndarray:
    forward = pd.util.hash_pandas_object(cells, index=False).to_numpy()
    backward = pd.util.hash_pandas_object(cells.iloc[:, ::-1], index=False).to_numpy()
    return np.stack([forward, backward], axis=1)


# --- the plain definition ----------------------------------------------------------------


def _reference_cell(col: Column, p: Parsed, i: int) -> tuple:
    """What a cell is compared on: its parsed value, or its text when it failed to parse."""
    if not p.ok[col.field].iloc[i]:
        text = p.text[col.field].iloc[i]
        return ("failed", "" if pd.isna(text) else text)
    v = p.value[col.field].iloc[i]
    if v is None or pd.isna(v):
        return ("null",)
    if col.type == "decimal":
        return ("value", str(v.normalize()))
    if isinstance(v, pd.Timestamp):
        return ("value", v.date())
    if isinstance(v, np.generic):
        v = v.item()
    return ("value", type(v).__name__, v)


def _reference_rows(source: Source, p: Parsed, fields: list[str] | None = None) -> list[tuple]:
    cols = [c for c in source.columns if fields is None or c.field in fields]
    return [tuple(_reference_cell(c, p, i) for c in cols) for i in range(len(p.text))]


def _same_pairs(keys: np.ndarray) -> np.ndarray:
    """(n, n) bool: rows i and j have the same 128-bit key."""
    return (keys[:, None, 0] == keys[None, :, 0]) & (keys[:, None, 1] == keys[None, :, 1])


def _reference_pairs(rows: list[tuple]) -> np.ndarray:
    return np.array([[a == b for b in rows] for a in rows], dtype=bool).reshape(len(rows), -1)


def _classes(keys: np.ndarray) -> np.ndarray:
    """Rows labelled by the order their key first appears: equal labels <=> equal keys."""
    return pd.DataFrame(keys).groupby([0, 1], sort=False).ngroup().to_numpy()


# --- a source with every column type ------------------------------------------------------

EVERY_TYPE = Source(
    code="every_type",
    area="ip",
    label="every type",
    file_stem="every_type",
    format="csv",
    columns=(
        Column("编号", "ref", key=True),
        Column("名称", "name"),
        enum("渠道", "channel", "网上办理", "窗口办理", synonyms={"网办": "网上办理"}),
        boolean("是否", "flag", blank_allowed=True),
        Column("日期", "day", "date"),
        Column("时间戳", "stamp", "epoch_ms_date"),
        Column("月份", "month", "month"),
        Column("数量", "count", "int"),
        Column("金额", "amount", "decimal", minimum=0),  # blank -> "0"
        Column("金额2", "amount2", "decimal"),  # blank stays null
    ),
)
KEY_COLUMNS = [0, 4]  # ref and day, by position
KEY_FIELDS = ["ref", "day"]

_DECIMALS = [
    "1.5", "1.50", "1.500", "0", "-0", "0.00", "-0.00", "100", "1E+2", "1e2", "1,000", "1000",
    "1000.0", "abc", "1.5.0", "2024-01-05",
    "1.2345678901234567890123456789012",  # these two normalize equal (28 digits) ...
    "1.2345678901234567890123456789011",
    "1.234567890123456789012345679",  # ... and equal to this one
]  # fmt: skip
_POOLS: dict[str, list[str | None]] = {
    "ref": ["A1", "A2", "a1", " A1", "１", "1", "1.5"],
    "name": ["甲", "乙", "甲公司", "\x00甲", "1.5", "2024-01-05", "是", "其他", "x\x00", "x"],
    "channel": ["网上办理", "窗口办理", "网办", "其他", "网上", "\x00其他"],
    "flag": ["是", "否", "Y", "1", "True"],
    "day": ["2024-01-05", "2024/1/5", "20240105", "2024年1月5日", "2024-01-06", "2024-02-30", "x"],
    "stamp": ["1704412800000", "1704412800000.0", "1704384000000", "1704499200000", "abc"],
    "month": ["2024-01", "2024/1", "2024年1月", "2024-02", "2024-13", "2024-01-05"],
    "count": ["1000", "1,000", "1000.0", "0", "-1", "x", "1.5", "12345678901234567890"],
    "amount": _DECIMALS,
    "amount2": _DECIMALS,
}


def _frame(rows: list[dict[str, str | None]]) -> pd.DataFrame:
    raw = pd.DataFrame({c.field: [r[c.field] for r in rows] for c in EVERY_TYPE.columns})
    return pd.DataFrame(
        {f: values.normalize_text(pd.Series(raw[f].tolist(), dtype="str")) for f in raw.columns}
    )


_ROW = st.fixed_dictionaries(
    {f: st.one_of(st.none(), st.sampled_from(pool)) for f, pool in _POOLS.items()}
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_ROW, min_size=1, max_size=25), st.data())
def test_equal_keys_exactly_when_parsed_rows_are_equal(rows: list, data: st.DataObject) -> None:
    # Repeat some rows so that equal rows are common, not only equal cells.
    rows = rows + data.draw(st.lists(st.sampled_from(rows), max_size=10))
    p = parse_table(EVERY_TYPE, _frame(rows))
    cells = row_hash.cell_hashes(EVERY_TYPE, p)
    assert cells.shape == (len(rows), len(EVERY_TYPE.columns)) and cells.dtype == np.uint64

    ref = _reference_rows(EVERY_TYPE, p)
    want = _reference_pairs(ref)
    assert (_same_pairs(row_hash.row_keys(cells)) == want).all()
    old = _old_comparison_frame(EVERY_TYPE, p)
    assert (_same_pairs(_old_row_keys(old)) == want).all()  # the reference is the old rule

    want_keys = _reference_pairs([tuple(r[j] for j in KEY_COLUMNS) for r in ref])
    assert (_same_pairs(row_hash.row_keys(cells, KEY_COLUMNS)) == want_keys).all()
    assert (_same_pairs(_old_row_keys(old[KEY_FIELDS])) == want_keys).all()

    for j, col in enumerate(EVERY_TYPE.columns):  # cell by cell too
        want_cells = _reference_pairs([(r[j],) for r in ref])
        assert (np.equal.outer(cells[:, j], cells[:, j]) == want_cells).all(), col.field


def test_decimal_cells_compare_on_their_normalized_string() -> None:
    amounts = ["1.5", "1.50", "100", "1E+2", "0", "0.00", "-0", "-0.00", "0E+3", None]
    rows = [{**{f: None for f in _POOLS}, "ref": "A", "amount2": a} for a in amounts]
    p = parse_table(EVERY_TYPE, _frame(rows))
    h = row_hash.cell_hashes(EVERY_TYPE, p)[
        :, EVERY_TYPE.columns.index(EVERY_TYPE.column("amount2"))
    ]
    assert h[0] == h[1]  # 1.5 == 1.50
    assert h[2] == h[3]  # 100 == 1E+2
    assert h[4] == h[5] == h[8]  # 0 == 0.00 == 0E+3
    assert h[6] == h[7]  # -0 == -0.00 ...
    assert h[4] != h[6]  # ... but -0 != 0, as Decimal.normalize() keeps the sign
    assert h[9] == row_hash.NULL
    assert len(set(h[[0, 2, 4, 6, 9]].tolist())) == 5


# --- Parsed blocks built by hand: any value, any text, any ok mask ------------------------

_TEXTS = ["abc", "1.5", "2024-01-05", "1", "True", "", "\x00abc", "2024-01-05T00:00:00"]
_HAND = Source(
    code="hand",
    area="ip",
    label="hand",
    file_stem="hand",
    format="csv",
    columns=(
        Column("t", "t"),
        Column("d", "d", "date"),
        Column("i", "i", "int"),
        Column("b", "b", "bool"),
        Column("m", "m", "decimal"),
    ),
)
_HAND_VALUES = {
    "t": (st.sampled_from(["abc", "1.5", "2024-01-05", "1", "True", "\x00abc"]), "str"),
    "d": (st.sampled_from([pd.Timestamp("2024-01-05"), pd.Timestamp("1970-01-01")]), "datetime64[s]"),
    "i": (st.sampled_from([0, 1, 1000, -1, 2**62]), "Int64"),
    "b": (st.booleans(), "boolean"),
    "m": (st.sampled_from([Decimal(x) for x in ["1.5", "1.50", "0", "-0", "1E+3", "1000"]]), object),
}  # fmt: skip


@st.composite
def _hand_parsed(draw: st.DrawFn) -> Parsed:
    n = draw(st.integers(1, 20))
    text, value, ok = {}, {}, {}
    for field, (strategy, dtype) in _HAND_VALUES.items():
        vals = draw(st.lists(st.one_of(st.none(), strategy), min_size=n, max_size=n))
        vals = vals + draw(st.lists(st.sampled_from(vals), max_size=5))  # repeats
        vals = vals[:n]
        if dtype == "datetime64[s]":
            value[field] = pd.Series([pd.NaT if v is None else v for v in vals], dtype=dtype)
        else:
            value[field] = pd.Series(vals, dtype=dtype)
        ok[field] = pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        text[field] = pd.Series(
            draw(st.lists(st.one_of(st.none(), st.sampled_from(_TEXTS)), min_size=n, max_size=n)),
            dtype="str",
        )
    return Parsed(text=pd.DataFrame(text), value=value, ok=ok, reason={})


@settings(max_examples=100, deadline=None)
@given(_hand_parsed())
def test_failed_cells_compare_on_text_and_never_equal_a_parsed_value(p: Parsed) -> None:
    """A failed cell whose text reads like a parsed value ("1.5", "abc", "True") is still
    apart from it; a failed blank equals a failed ""; a null parsed cell is its own value."""
    cells = row_hash.cell_hashes(_HAND, p)
    ref = _reference_rows(_HAND, p)
    old = _old_comparison_frame(_HAND, p)
    for j, col in enumerate(_HAND.columns):
        want = _reference_pairs([(r[j],) for r in ref])
        assert (np.equal.outer(cells[:, j], cells[:, j]) == want).all(), col.field
        # The old rule hashed a failed cell as "\x00" + text, the same hash as a parsed
        # string "\x00" + text: only possible in a text column, which never fails to parse.
        if not (col.field == "t" and p.value["t"].str.startswith("\x00").any()):
            o = old[col.field].to_numpy()
            assert (np.equal.outer(o, o) == want).all(), col.field
    assert (_same_pairs(row_hash.row_keys(cells)) == _reference_pairs(ref)).all()


# --- hashes are a function of the value, never of the block -------------------------------


def test_a_cell_hashes_the_same_in_any_block_and_either_string_path() -> None:
    """Big columns of ids are hashed cell by cell, small or repetitive ones per distinct
    value: the same row hashes the same in a block of 20,000 rows and in a block of 7."""
    rng = np.random.default_rng(7)
    n = 20_000
    rows = [
        {
            **{f: _POOLS[f][int(rng.integers(len(_POOLS[f])))] for f in _POOLS},
            "ref": f"DJ{int(rng.integers(0, 10**9)):09d}" if i % 10 else None,
            "name": "名" * int(rng.integers(0, 30)) + str(i % 1000),
        }
        for i in range(n)
    ]
    frame = _frame(rows)
    whole = row_hash.cell_hashes(EVERY_TYPE, parse_table(EVERY_TYPE, frame))
    for start in (0, 9_000, n - 7):
        part = parse_table(EVERY_TYPE, frame.iloc[start : start + 7].reset_index(drop=True))
        assert (row_hash.cell_hashes(EVERY_TYPE, part) == whole[start : start + 7]).all()
    # and the whole block agrees with the plain rule, column by column
    old = _old_comparison_frame(EVERY_TYPE, parse_table(EVERY_TYPE, frame))
    for j, col in enumerate(EVERY_TYPE.columns):
        assert (pd.factorize(whole[:, j])[0] == pd.factorize(old[col.field].to_numpy())[0]).all()


def _python_string_hash(s: bytes, seed: int) -> int:
    """row_hash._hash_strings, one string at a time in plain Python."""
    mask = 2**64 - 1

    def fmix(z: int) -> int:
        z ^= z >> 33
        z = (z * 0xFF51AFD7ED558CCD) & mask
        z ^= z >> 33
        z = (z * 0xC4CEB9FE1A85EC53) & mask
        return z ^ (z >> 33)

    h = seed
    for k in range(0, len(s), 8):
        h = fmix(h ^ int.from_bytes(s[k : k + 8].ljust(8, b"\x00"), "little"))
    return fmix(h ^ ((len(s) * 0xE7037ED1A0B428DB) & mask))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from(list("ab\x00甲😀")), max_size=40), max_size=30),
    st.integers(0, 3),
    st.booleans(),
)
def test_string_hash_is_the_word_by_word_definition(
    strings: list[str], offset: int, large: bool
) -> None:
    arr = pa.array(["pad"] * offset + strings, type=pa.large_string() if large else pa.string())
    arr = arr.slice(offset)  # a slice: offsets not starting at 0
    got = row_hash._hash_strings(arr, 12345).tolist()
    assert got == [_python_string_hash(s.encode(), 12345) for s in strings]


# --- row keys -----------------------------------------------------------------------------


def test_row_keys_shape_order_and_column_choice() -> None:
    rng = np.random.default_rng(1)
    cells = rng.integers(0, 2**63, size=(1000, 4), dtype=np.int64).view(np.uint64)
    cells[500:] = cells[:500]
    keys = row_hash.row_keys(cells)
    assert keys.shape == (1000, 2) and keys.dtype == np.uint64
    assert (keys[500:] == keys[:500]).all()
    assert len(np.unique(keys[:500], axis=0)) == 500
    assert (keys[:, 0] != keys[:, 1]).all()  # two different combinations
    swapped = cells[:, [1, 0, 2, 3]]
    assert (row_hash.row_keys(swapped) != keys).all(axis=1).all()  # column order matters
    assert (row_hash.row_keys(cells, [2, 0]) == row_hash.row_keys(cells[:, [2, 0]])).all()
    assert row_hash.row_keys(cells[:0]).shape == (0, 2)
    # a row differing from another in one cell never shares its key
    one_off = cells.copy()
    one_off[np.arange(1000), rng.integers(0, 4, 1000)] ^= np.uint64(1)
    assert (row_hash.row_keys(one_off) != keys).any(axis=1).all()
    # C- or F-ordered input alike
    assert (row_hash.row_keys(np.asfortranarray(cells)) == keys).all()


# --- the sample exports: the same duplicate and conflict decisions ------------------------


def _blocks(path: Path, source: Source) -> Iterator[pd.DataFrame]:
    data = path.read_bytes()
    try:
        export = read_export(io.BytesIO(data), source, path.suffix[1:])
        yield from [t.normalized for t in export.blocks()]
    except StreamFailed:
        export = read_export(io.BytesIO(data), source, path.suffix[1:], stream=False)
        yield from [t.normalized for t in export.blocks()]


def _decisions(rows: np.ndarray, keys: np.ndarray, present: np.ndarray) -> tuple:
    """extract_table's file-wide steps: duplicates, then conflicting keys among the rest."""
    duplicate = _duplicated(rows, "first")
    candidates = np.flatnonzero(~duplicate & present)
    conflicting = np.zeros(len(rows), dtype=bool)
    if len(candidates):
        conflicting[candidates[_duplicated(keys[candidates], False)]] = True
    return duplicate, conflicting


@pytest.mark.parametrize("code", sorted(SOURCES))
def test_real_exports_get_the_same_duplicate_and_conflict_decisions(
    code: str, demo_landing: Path
) -> None:
    source = SOURCES[code]
    key_fields = list(source.key_fields)
    key_columns = [i for i, c in enumerate(source.columns) if c.key]
    files = sorted((demo_landing / code).iterdir())
    assert files
    per_file = {"old": [], "new": []}
    for path in files:
        old_rows, old_keys, new_rows, new_keys, present = [], [], [], [], []
        for normalized in _blocks(path, source):
            p = parse_table(source, normalized)
            old = _old_comparison_frame(source, p)
            new = row_hash.cell_hashes(source, p)
            for j, col in enumerate(source.columns):
                same_old = pd.factorize(old[col.field].to_numpy())[0]
                assert (pd.factorize(new[:, j])[0] == same_old).all(), (path.name, col.field)
            old_rows.append(_old_row_keys(old))
            old_keys.append(_old_row_keys(old[key_fields]))
            new_rows.append(row_hash.row_keys(new))
            new_keys.append(row_hash.row_keys(new, key_columns))
            present.append(p.text[key_fields].notna().all(axis=1).to_numpy())
        per_file["old"].append(tuple(map(np.concatenate, (old_rows, old_keys, present))))
        per_file["new"].append(tuple(map(np.concatenate, (new_rows, new_keys, present))))
    # File by file, as the connector decides ...
    found = 0
    for old, new in zip(per_file["old"], per_file["new"], strict=True):
        want = _decisions(*old)
        got = _decisions(*new)
        assert all((a == b).all() for a, b in zip(want, got, strict=True))
        assert (_classes(old[0]) == _classes(new[0])).all()
        assert (_classes(old[1]) == _classes(new[1])).all()
        found += int(want[0].sum() + want[1].sum())
    # ... and over all the files of the source as one (re-deliveries repeat rows: hashes
    # of rows parsed in different blocks must meet).
    old_all = [np.concatenate(x) for x in zip(*per_file["old"], strict=True)]
    new_all = [np.concatenate(x) for x in zip(*per_file["new"], strict=True)]
    want = _decisions(*old_all)
    got = _decisions(*new_all)
    assert all((a == b).all() for a, b in zip(want, got, strict=True))
    assert (_classes(old_all[0]) == _classes(new_all[0])).all()
    assert (_classes(old_all[1]) == _classes(new_all[1])).all()
    if code in ("registration", "cases", "inspections", "ip_cases"):
        assert found > 0  # the samples do hold duplicates or conflicts for these
