"""Check digits: USCC (GB 32100-2015) and resident ID (GB 11643)."""

from __future__ import annotations

import re

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import identifiers
from tests.connectors.conftest import RESIDENT_ID, USCC


def test_uscc_with_correct_check_character_is_valid() -> None:
    assert identifiers.valid_uscc(pd.Series([USCC], dtype="str")).tolist() == [True]


def test_uscc_with_wrong_check_character_or_alphabet_is_invalid() -> None:
    wrong = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    bad = pd.Series([wrong, USCC[:-1], USCC[:-1] + "I", None], dtype="str")
    assert identifiers.valid_uscc(bad).tolist() == [False, False, False, False]


def test_uscc_alphabet_only_rule_ignores_check_digit() -> None:
    wrong = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    values = pd.Series([wrong, "12440703ABCDEFGHJS", "5144070300000000O0"], dtype="str")
    assert identifiers.valid_uscc_alphabet(values).tolist() == [True, False, False]


def test_resident_id_check_digit_and_lowercase_x() -> None:
    base = "44070319900101005"  # its check character is X
    x_id = base + identifiers.resident_id_check_char(base)
    assert identifiers.valid_resident_id(pd.Series([RESIDENT_ID], dtype="str")).tolist() == [True]
    assert x_id.endswith("X")
    lower = pd.Series([x_id.lower()], dtype="str")
    assert identifiers.valid_resident_id(lower).tolist() == [True]
    wrong = RESIDENT_ID[:-1] + ("8" if RESIDENT_ID[-1] != "8" else "9")
    assert identifiers.valid_resident_id(pd.Series([wrong], dtype="str")).tolist() == [False]


def _reference_uscc(value: str | None, check: bool) -> bool:
    if value is None or not re.fullmatch(identifiers.USCC_PATTERN, value):
        return False
    return not check or identifiers.uscc_check_char(value[:17]) == value[17]


def _reference_resident_id(value: str | None) -> bool:
    if value is None:
        return False
    value = value[:-1] + "X" if value.endswith("x") else value
    if not re.fullmatch(identifiers.RESIDENT_ID_PATTERN, value):
        return False
    return identifiers.resident_id_check_char(value[:17]) == value[17]


# Near misses: alphabet letters, the ones it leaves out (I, O, S, V, Z), a lower-case x, the
# byte after '9' (':'), full-width digits (3 bytes each) and a 2-byte letter.
_CHARS = st.sampled_from(list("0123456789ABXYxIOSVZ:a") + ["１", "é"])
_IDS = st.one_of(
    st.none(),
    st.text(_CHARS, min_size=16, max_size=19),
    st.sampled_from([USCC, RESIDENT_ID, "44070319900101005X", "44070319900101005x"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_IDS, max_size=12), st.sampled_from(["str", "object"]))
def test_checks_read_from_arrow_buffers_agree_with_the_patterns(
    cells: list[str | None], dtype: str
) -> None:
    """The checks read the bytes of 18-byte cells from Arrow's buffer; whatever the cells,
    they agree with the regular expressions and check characters they stand for."""
    values = pd.Series(cells, dtype=dtype, index=range(100, 100 + len(cells)))
    assert identifiers.valid_uscc(values).tolist() == [_reference_uscc(v, True) for v in cells]
    assert identifiers.valid_uscc_alphabet(values).tolist() == [
        _reference_uscc(v, False) for v in cells
    ]
    assert identifiers.valid_resident_id(values).tolist() == [
        _reference_resident_id(v) for v in cells
    ]
    assert list(identifiers.valid_uscc(values).index) == list(values.index)
