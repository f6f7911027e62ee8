"""Row hashes for exact duplicates and conflicting keys, without Python objects per cell.

`cell_hashes(source, p)` gives one 64-bit hash per parsed cell, `row_keys(cells)` two
64-bit combinations of a row's cell hashes (128 bits per row). They replaced pandas'
`hash_pandas_object` (3-4x slower: it turns Arrow strings into Python objects) with the
same equality semantics:

* text and enum cells are equal when their strings are (exact, byte for byte);
* dates when their datetime64 values are (the parsers give midnights: equal by date);
* int and bool cells when their values are;
* decimal cells when their `Decimal.normalize()` strings are (1.50 == 1.5, 100 == 1E+2,
  but 0 != -0, and digits beyond the context precision are rounded away, as before);
* a null parsed cell equals every null cell of its column and nothing else;
* a cell that failed to parse is compared on its normalized text (null text as ""), in a
  hash domain of its own: it never equals a parsed cell, whatever its text.

Hashes differ from the pandas ones (only equality matters, and only
between cells of the same column): they are a pure function of the value, never of the
block it came in, so keys of different blocks of a file compare as before.

How: strings are hashed on Arrow's own buffers, 8 bytes at a time, vectorized with numpy:
over the distinct values of a repetitive column (`pyarrow.compute.dictionary_encode`,
taken back by index), cell by cell for a column of ids; dates, ints and bools through a
64-bit mixer (fmix64) on their int64 values with the null mask applied; decimals are
normalized once per distinct value (`pd.factorize` groups numerically equal Decimals in
C; the sign of a zero, the one thing numeric equality forgets and `normalize()` keeps, is
read back per zero cell). Nothing assumes a parsed value follows from its text.

Dates are compared in seconds (datetime64[s], what the parsers give); a column in
another unit is converted first, so blocks of different units would still compare.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.sources import Source
from connectors.values import string_array

if TYPE_CHECKING:
    from connectors.rules import Parsed

__all__ = ["cell_hashes", "row_keys"]

_U64 = np.uint64
# fmix64 (MurmurHash3's finalizer): a bijection of 64-bit words with full avalanche.
_M1, _M2 = _U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53)
# Seeds that keep the domains apart (arbitrary odd 64-bit constants).
_SEED_TEXT = 0x9E3779B97F4A7C15  # parsed strings (text, enum, normalized decimals)
_SEED_FAILED = 0xD6E8FEB86659FD93  # text of cells that failed to parse
_SEED_NUMBER = 0xA0761D6478BD642F  # int64 values (dates, ints, bools)
_LENGTH_MUL = _U64(0xE7037ED1A0B428DB)
NULL = _U64(0x6A09E667F3BCC909)  # every null parsed cell
# Row key combiners: two chains with different seeds and multipliers.
_ROW_SEED = (_U64(0x243F6A8885A308D3), _U64(0x13198A2E03707345))
_ROW_MUL = (_U64(0x9FB21C651E98DF25), _U64(0xD1B54A32D192ED03))
# Low bytes kept of the last, partial word of a string: index = bytes left (>= 8: all).
_TAIL_MASK = np.array([(1 << (8 * r)) - 1 for r in range(8)] + [2**64 - 1], dtype=np.uint64)


def _fmix(z: np.ndarray) -> np.ndarray:
    """fmix64 in place on a uint64 array (returned)."""
    t = np.empty_like(z)
    for mul in (_M1, _M2):
        np.right_shift(z, _U64(33), out=t)
        np.bitwise_xor(z, t, out=z)
        np.multiply(z, mul, out=z)
    np.right_shift(z, _U64(33), out=t)
    np.bitwise_xor(z, t, out=z)
    return z


def _hash_int64(values: np.ndarray, null: np.ndarray | None) -> np.ndarray:
    """int64 values -> uint64 hashes; `null` rows -> NULL."""
    h = np.bitwise_xor(values.astype(np.int64, copy=False).view(np.uint64), _U64(_SEED_NUMBER))
    _fmix(h)
    if null is not None and null.any():
        h[null] = NULL
    return h


def _hash_strings(arr: pa.Array, seed: int) -> np.ndarray:
    """One uint64 per string of `arr` (nulls hash like ""; callers mask them).

    Each string is read as little-endian 8-byte words (the last one zero-padded) and folded
    h = fmix(h ^ word) from the seed, then its byte length is mixed in (so trailing NUL
    bytes count). Words every string has are folded over the whole array; the rest over a
    prefix of the strings sorted by word count, those still running.
    """
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=off_type, count=arr.offset + n + 1)[arr.offset :]
    offsets = offsets.astype(np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    lengths = np.diff(offsets)
    starts = offsets[:-1] - first
    padded = np.zeros(last - first + 8, dtype=np.uint8)
    if last > first:
        padded[: last - first] = np.frombuffer(buffers[2], dtype=np.uint8)[first:last]
    # Element j = the 8 bytes starting at byte j (an overlapping, unaligned view).
    words = np.ndarray(shape=(last - first + 1,), dtype="<u8", buffer=padded, strides=(1,))

    h = np.full(n, _U64(seed), dtype=np.uint64)
    nwords = (lengths + 7) >> 3
    common, most = int(nwords.min()), int(nwords.max())

    def fold(h: np.ndarray, starts: np.ndarray, lengths: np.ndarray, k: int, tail: bool) -> None:
        w = words[starts + 8 * k]
        if tail:  # the last word of some: keep only their bytes
            w &= _TAIL_MASK[np.minimum(lengths - 8 * k, 8)]
        np.bitwise_xor(h, w, out=h)
        _fmix(h)

    for k in range(common):
        fold(h, starts, lengths, k, tail=k == common - 1)
    if most > common:
        order = np.argsort(-nwords, kind="stable")
        alive = n - np.cumsum(np.bincount(nwords))  # alive[k]: strings of more than k words
        s_starts, s_lengths, hs = starts[order], lengths[order], h[order]
        for k in range(common, most):
            a = int(alive[k])
            fold(hs[:a], s_starts[:a], s_lengths[:a], k, tail=True)
        h[order] = hs
    h ^= lengths.astype(np.uint64) * _LENGTH_MUL
    return _fmix(h)


_SAMPLE = 4096


def _hash_text_column(arr: pa.Array, seed: int) -> np.ndarray:
    """Strings -> hashes; null -> NULL. Each distinct string is hashed once when they
    repeat (guessed on a sample), else every cell directly (ids: encoding buys nothing)."""
    n = len(arr)
    if n > 2 * _SAMPLE:
        sample = pc.count_distinct(arr.slice(0, _SAMPLE), mode="all").as_py()
        if sample * 2 > _SAMPLE:
            h = _hash_strings(arr, seed)
            if arr.null_count:
                h[arr.is_null().to_numpy(zero_copy_only=False)] = NULL
            return h
    encoded = pc.dictionary_encode(arr)
    table = np.append(_hash_strings(string_array(encoded.dictionary), seed), NULL)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return table[codes]  # code -1 (null) takes the trailing NULL


_ZERO, _MINUS_ZERO = Decimal("0"), Decimal("-0")


def _decimal_key(d: Decimal) -> str:
    return str(d.normalize())


def _hash_decimal_column(values: pd.Series) -> np.ndarray:
    """Decimals (object, None/NaN for null) -> hash of their normalize() string."""
    obj = values.to_numpy(dtype=object)
    codes, uniques = pd.factorize(obj, use_na_sentinel=True)
    keys = [_decimal_key(d) for d in uniques]
    table = np.append(_hash_strings(pa.array(keys, type=pa.string()), _SEED_TEXT), NULL)
    out = table[codes]
    # Numeric equality (factorize) merges 0 and -0, which normalize() keeps apart.
    zeros = [i for i, d in enumerate(uniques) if d.is_zero()]
    if zeros:
        at = np.flatnonzero(np.isin(codes, zeros))
        signed = np.fromiter((d.is_signed() for d in obj[at]), dtype=bool, count=len(at))
        plus, minus = _hash_strings(
            pa.array([_decimal_key(_ZERO), _decimal_key(_MINUS_ZERO)]), _SEED_TEXT
        )
        out[at] = np.where(signed, minus, plus)
    return out


def _hash_parsed(col_type: str, values: pd.Series) -> np.ndarray:
    dtype = values.dtype
    if col_type == "decimal":
        return _hash_decimal_column(values)
    if isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)
    ):
        return _hash_text_column(string_array(values.array), _SEED_TEXT)
    if pd.api.types.is_datetime64_dtype(dtype):
        arr = values.to_numpy()
        if np.datetime_data(arr.dtype)[0] != "s":
            arr = arr.astype("datetime64[s]")
        return _hash_int64(arr.view(np.int64), np.isnat(arr))
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        null = values.isna().to_numpy(dtype=bool)
        return _hash_int64(values.to_numpy(dtype=np.int64, na_value=0), null)
    if pd.api.types.is_object_dtype(dtype):  # strings only (no "1" == 1), else the fallback below
        try:
            arr = string_array(pa.array(values.to_numpy(dtype=object), from_pandas=True))
        except (TypeError, pa.ArrowException):
            pass
        else:
            return _hash_text_column(arr, _SEED_TEXT)
    # Anything else: pandas' hash (Python objects), nulls made NULL like everywhere.
    h = pd.util.hash_pandas_object(values, index=False).to_numpy().copy()
    h[values.isna().to_numpy(dtype=bool)] = NULL
    return h


def cell_hashes(source: Source, p: Parsed) -> np.ndarray:
    """(rows, columns) uint64, columns in `source.columns` order, for a `Parsed` block.

    Equal parsed values hash equal; a cell that failed to parse hashes its normalized
    text (null as "") apart from every parsed value; a null parsed cell hashes NULL.
    The array is column-major (a transposed (columns, rows) array).
    """
    n = len(p.text)
    out = np.empty((len(source.columns), n), dtype=np.uint64)
    for j, col in enumerate(source.columns):
        out[j] = _hash_parsed(col.type, p.value[col.field])
        ok = p.ok[col.field].to_numpy(dtype=bool)
        if not ok.all():
            bad = np.flatnonzero(~ok)
            text = pd.Series(p.text[col.field].iloc[bad], dtype="str").fillna("")
            out[j, bad] = _hash_strings(string_array(text.array), _SEED_FAILED)
    return out.T


def row_keys(cells: np.ndarray, columns: list[int] | None = None) -> np.ndarray:
    """(rows, 2) uint64: two independent 64-bit combinations of a row's cell hashes
    (of `columns` only, by position, in that order; all columns when None).

    Each chain folds the cells as h = (h ^ c) * M, h ^= h >> 32 (a bijection in h and in c,
    so rows differing in one cell never collide) with its own seed and multiplier, and ends
    with fmix64; two rows share a key only if all their cells are equal, but with
    probability ~2^-128 otherwise (given distinct cell hashes).
    """
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.ndim != 2:
        raise ValueError("cells must be (rows, columns)")
    picked = range(cells.shape[1]) if columns is None else columns
    n = cells.shape[0]
    out = np.empty((2, n), dtype=np.uint64)
    t = np.empty(n, dtype=np.uint64)
    for chain in (0, 1):
        h = out[chain]
        h.fill(_ROW_SEED[chain])
        for j in picked:
            np.bitwise_xor(h, cells[:, j], out=h)
            np.multiply(h, _ROW_MUL[chain], out=h)
            np.right_shift(h, _U64(32), out=t)
            np.bitwise_xor(h, t, out=h)
        _fmix(h)
    return out.T.copy()
