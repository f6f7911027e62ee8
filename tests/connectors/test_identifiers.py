"""Check digits: USCC (GB 32100-2015) and resident ID (GB 11643)."""

from __future__ import annotations

import pandas as pd

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
