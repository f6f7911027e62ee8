"""Check digits of the identifiers in the exports, vectorized with numpy.

USCC: GB 32100-2015 (统一社会信用代码); resident ID: GB 11643 (公民身份号码).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.values import string_array

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
USCC_PATTERN = f"[{USCC_ALPHABET}]{{18}}"
RESIDENT_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
RESIDENT_ID_PATTERN = r"\d{17}[\dX]"
ID_LENGTH = 18

_USCC_LUT = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(USCC_ALPHABET):
    _USCC_LUT[ord(_c)] = _i


def _byte_matrix(values: pd.Series, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The values of exactly `width` bytes: their positions, and their bytes as a k x width
    matrix read straight from the Arrow buffer (no Python string per cell; the others,
    missing ones included, can only fail an 18-character ASCII pattern)."""
    arr = string_array(values.astype("str"))
    lengths = pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False)
    at = np.flatnonzero(lengths == width)
    if len(at) == 0:
        return at, np.empty((0, width), dtype=np.uint8)
    picked = arr.take(pa.array(at))
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(picked.buffers()[1], dtype=offset_type)[picked.offset :]
    first = int(offsets[0])
    data = np.frombuffer(picked.buffers()[2], dtype=np.uint8)[first : first + width * len(at)]
    return at, data.reshape(len(at), width)


def _as_series(values: pd.Series, at: np.ndarray, good: np.ndarray) -> pd.Series:
    ok = np.zeros(len(values), dtype=bool)
    ok[at[good]] = True
    return pd.Series(ok, index=values.index)


def _uscc_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of 18-byte values, their alphabet codes (-1 outside it), and which hold
    only alphabet characters (USCC_PATTERN)."""
    at, matrix = _byte_matrix(values, ID_LENGTH)
    codes = _USCC_LUT[matrix]
    return at, codes, (codes >= 0).all(axis=1)


def uscc_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a USCC."""
    codes = np.array([_USCC_LUT[ord(c)] for c in first17])
    return USCC_ALPHABET[(31 - int(codes @ USCC_WEIGHTS) % 31) % 31]


def resident_id_check_char(first17: str) -> str:
    digits = np.array([int(c) for c in first17])
    return "0123456789X"[(12 - int(digits @ RESIDENT_ID_WEIGHTS) % 11) % 11]


def valid_uscc_alphabet(values: pd.Series) -> pd.Series:
    """18 characters of the USCC alphabet (no check digit): the inspections rule."""
    at, _, good = _uscc_codes(values)
    return _as_series(values, at, good)


def valid_uscc(values: pd.Series) -> pd.Series:
    """True where the value is a USCC with a correct check character (NA -> False)."""
    at, codes, good = _uscc_codes(values)
    expected = (31 - (codes[:, :17] @ USCC_WEIGHTS) % 31) % 31
    return _as_series(values, at, good & (codes[:, 17] == expected))


def normalize_resident_id(values: pd.Series) -> pd.Series:
    """A final lowercase `x` reads as `X`."""
    return values.str.replace(r"x$", "X", regex=True)


def valid_resident_id(values: pd.Series) -> pd.Series:
    """True where the value is an 18-character resident ID with a correct check digit."""
    at, m = _byte_matrix(normalize_resident_id(values), ID_LENGTH)
    digits = m.astype(np.int64) - ord("0")
    is_digit = (digits >= 0) & (digits <= 9)
    x_last = m[:, 17] == ord("X")
    good = is_digit[:, :17].all(axis=1) & (is_digit[:, 17] | x_last)  # RESIDENT_ID_PATTERN
    last = np.where(x_last, 10, digits[:, 17])
    check = (12 - (digits[:, :17] @ RESIDENT_ID_WEIGHTS) % 11) % 11
    return _as_series(values, at, good & (last == check))
