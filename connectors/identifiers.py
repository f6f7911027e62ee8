"""Check digits of the identifiers in the exports, vectorized with numpy.

USCC: GB 32100-2015 (统一社会信用代码); resident ID: GB 11643 (公民身份号码).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
USCC_PATTERN = f"[{USCC_ALPHABET}]{{18}}"
RESIDENT_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
RESIDENT_ID_PATTERN = r"\d{17}[\dX]"

_USCC_LUT = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(USCC_ALPHABET):
    _USCC_LUT[ord(_c)] = _i


def _as_matrix(values: pd.Series) -> np.ndarray:
    """n x 18 matrix of the ASCII codes of equal-length, ASCII-only strings."""
    joined = "".join(values.tolist()).encode("ascii")
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(values), 18)


def uscc_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a USCC."""
    codes = np.array([_USCC_LUT[ord(c)] for c in first17])
    return USCC_ALPHABET[(31 - int(codes @ USCC_WEIGHTS) % 31) % 31]


def resident_id_check_char(first17: str) -> str:
    digits = np.array([int(c) for c in first17])
    return "0123456789X"[(12 - int(digits @ RESIDENT_ID_WEIGHTS) % 11) % 11]


def valid_uscc_alphabet(values: pd.Series) -> pd.Series:
    """18 characters of the USCC alphabet (no check digit): the inspections rule."""
    return values.str.fullmatch(USCC_PATTERN).fillna(False).astype(bool)


def valid_uscc(values: pd.Series) -> pd.Series:
    """True where the value is a USCC with a correct check character (NA -> False)."""
    ok = valid_uscc_alphabet(values)
    if ok.any():
        codes = _USCC_LUT[_as_matrix(values[ok])]
        expected = (31 - (codes[:, :17] @ USCC_WEIGHTS) % 31) % 31
        ok[ok] = codes[:, 17] == expected
    return ok


def normalize_resident_id(values: pd.Series) -> pd.Series:
    """A final lowercase `x` reads as `X`."""
    return values.str.replace(r"x$", "X", regex=True)


def valid_resident_id(values: pd.Series) -> pd.Series:
    """True where the value is an 18-character resident ID with a correct check digit."""
    values = normalize_resident_id(values)
    ok = values.str.fullmatch(RESIDENT_ID_PATTERN).fillna(False).astype(bool)
    if ok.any():
        m = _as_matrix(values[ok]).astype(np.int64)
        digits = m[:, :17] - ord("0")
        check = (12 - (digits @ RESIDENT_ID_WEIGHTS) % 11) % 11
        last = np.where(m[:, 17] == ord("X"), 10, m[:, 17] - ord("0"))
        ok[ok] = last == check
    return ok
