"""Common value rules, one test per rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from unittest import mock

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connectors import values


def s(*items: object) -> pd.Series:
    return pd.Series(list(items), dtype="str")


def test_text_strips_ascii_and_fullwidth_spaces_and_blank_is_null() -> None:
    out = values.normalize_text(s("  甲\u3000", "\u3000 ", "乙"))
    assert out.iloc[0] == "甲"
    assert pd.isna(out.iloc[1])
    assert out.iloc[2] == "乙"


def test_a_column_of_distinct_cells_is_normalized_without_encoding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded = []
    encode = values.pc.dictionary_encode
    monkeypatch.setattr(values.pc, "dictionary_encode", lambda a: encoded.append(a) or encode(a))
    keys = [f"ＤＪ{i:06d}\u3000" for i in range(3 * values.REPEAT_SAMPLE)] + ["", None]
    out = values.normalize_text(pd.Series(keys, dtype="str"))
    assert encoded == []
    assert out.iloc[0] == "DJ000000" and out.iloc[-3] == f"DJ{3 * values.REPEAT_SAMPLE - 1:06d}"
    assert out.iloc[-2:].isna().all()
    towns = pd.Series(["杜阮镇", "棠下镇\u3000"] * (2 * values.REPEAT_SAMPLE), dtype="str")
    assert values.normalize_text(towns).tolist()[:2] == ["杜阮镇", "棠下镇"]
    assert len(encoded) == 1  # repeating cells: each distinct one normalized once


def test_fullwidth_digits_and_letters_become_ascii_but_brackets_stay() -> None:
    out = values.normalize_text(s("２０２４ＡＢｃ", "江蓬市监处罚〔2024〕１号", "（有限公司）"))
    assert out.tolist() == ["2024ABc", "江蓬市监处罚〔2024〕1号", "（有限公司）"]


_CELL = st.text(
    alphabet=st.sampled_from(list(" \t\r\n\u3000\u00a0\x0bａ０Ｚ９（〔甲乙a1- ")), max_size=8
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.none(), _CELL), max_size=40),
    st.booleans(),
    st.sampled_from([values.REPEAT_SAMPLE, 2, 8]),
)
def test_normalize_text_is_the_python_rule_cell_by_cell(
    cells: list, repeat: bool, sample: int
) -> None:
    """The vectorized rule (distinct values or not, whatever the first cells look like)
    equals the plain per-cell definition."""
    if repeat:
        cells = cells * 5  # the distinct-value path
    expected = [
        None
        if c is None
        else (c.strip(values.STRIP_CHARS).translate(values.FULLWIDTH_TABLE) or None)
        for c in cells
    ]
    with mock.patch.object(values, "REPEAT_SAMPLE", sample):
        got = values.normalize_text(pd.Series(cells, dtype="str"))
    assert [None if pd.isna(v) else v for v in got.tolist()] == expected


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-05",
        "2024/1/5",
        "2024.01.05",
        "20240105",
        "2024年1月5日",
        "2024-01-05 08:30",
        "2024/1/5 08:30:00",
        "2024/1/5 8:30",
        "2024年1月5日 23:59:59",
        "20240105 00:00",
    ],
)
def test_every_date_spelling_parses(text: str) -> None:
    parsed, ok = values.parse_dates(s(text))
    assert ok.all()
    assert parsed.iloc[0].date() == date(2024, 1, 5)


@pytest.mark.parametrize(
    "text",
    [
        "2024-02-30",
        "2024-01/05",
        "05/01/2024",
        "2024年1月5",
        "2024-1-5T08:30",
        "yesterday",
        "0000-01-01",  # no year 0: a stored date could not be read back
        "00000101",
        "2024-01-01 99:99",  # a time part that is no time of day
        "2024-01-01 24:00",
        "2024-01-01 08:30:99",
        "2024-01-01 08:60",
        "2024-01-01 ٠٨:٣٠",
    ],
)
def test_bad_or_impossible_dates_fail(text: str) -> None:
    parsed, ok = values.parse_dates(s(text))
    assert not ok.iloc[0]
    assert pd.isna(parsed.iloc[0])


def test_blank_date_is_ok_and_null() -> None:
    parsed, ok = values.parse_dates(pd.Series([None], dtype="str"))
    assert ok.iloc[0] and pd.isna(parsed.iloc[0])


def test_epoch_ms_before_year_1_is_not_a_date() -> None:
    # -99999999999999 ms is in the year -1199; -62135596800000 ms is 0001-01-01T00:00Z.
    parsed, ok = values.parse_epoch_ms_dates(s("-99999999999999", "-62135596800000"))
    assert ok.tolist() == [False, True]
    assert parsed.iloc[1].date() == date(1, 1, 1)


def test_epoch_ms_utc_becomes_shanghai_calendar_date() -> None:
    # 2023-12-31T17:30:00Z is 2024-01-01 in Asia/Shanghai.
    ms = int(pd.Timestamp("2023-12-31T17:30:00Z").timestamp() * 1000)
    parsed, ok = values.parse_epoch_ms_dates(s(str(ms), f"{ms}.0", "2024-01-01"))
    assert parsed.iloc[0].date() == date(2024, 1, 1)
    assert parsed.iloc[1].date() == date(2024, 1, 1)
    assert ok.tolist() == [True, True, False]


@pytest.mark.parametrize("text", ["2024-10", "2024-1", "2024/10", "2024年10月", "2024年1月"])
def test_month_spellings_give_first_day(text: str) -> None:
    parsed, ok = values.parse_months(s(text))
    assert ok.all()
    assert parsed.iloc[0].day == 1 and parsed.iloc[0].year == 2024


def test_month_13_is_rejected() -> None:
    _, ok = values.parse_months(s("2024-13"))
    assert not ok.iloc[0]


def test_amounts_keep_exact_decimals_with_thousands_separators() -> None:
    parsed, ok = values.parse_decimals(s("12,500.00", "0.1", "1,234,567.891", "12,50.0", "abc"))
    assert parsed.iloc[0] == Decimal("12500.00")
    assert parsed.iloc[1] == Decimal("0.1")
    assert parsed.iloc[2] == Decimal("1234567.891")
    assert ok.tolist() == [True, True, True, False, False]


def test_amounts_the_warehouse_cannot_hold_exactly_do_not_parse() -> None:
    parsed, ok = values.parse_decimals(
        s("123.456789", "772.5500000000001", "12.50000", "999,999,999,999.9999", "1e12")
    )
    # More than 4 decimal places or 12 integer digits: not rounded to fit, refused.
    assert ok.tolist() == [False, False, True, True, False]
    assert parsed.iloc[2] == Decimal("12.5")
    assert parsed.iloc[3] == Decimal("999999999999.9999")


def test_excel_numeric_cell_goes_through_repr_not_binary_arithmetic() -> None:
    assert values.excel_cell_text(0.1 + 0.2) == "0.30000000000000004"
    assert values.excel_cell_text(772.55) == "772.55"
    assert values.excel_cell_text(12500.0) == "12500"
    assert values.excel_cell_text(date(2024, 1, 5)) == "2024-01-05"


def test_integers_allow_separators_and_reject_negatives() -> None:
    parsed, ok = values.parse_ints(s("1,234", "7", "-3", "1.5"))
    assert parsed.iloc[0] == 1234 and parsed.iloc[1] == 7
    assert ok.tolist() == [True, True, False, False]


def test_distinct_texts_are_parsed_once_across_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file is parsed a block at a time: spellings seen in a block are not parsed again."""
    parsed: list[list[str]] = []

    def parse(text: pd.Series) -> tuple[pd.Series, pd.Series]:
        parsed.append(text.tolist())
        return values.parse_dates.__wrapped__(text)  # type: ignore[attr-defined]

    parse_dates = values.on_distinct_values(parse)
    monkeypatch.setattr(values, "MEMO_LIMIT", 4)
    block = ["2024-03-01", "2024.3.1", None, "2024-02-30", "2024-03-01"] * 4
    first = parse_dates(pd.Series(block, dtype="str"))
    second = parse_dates(pd.Series(block[::-1], dtype="str"))
    assert parsed == [["2024-03-01", "2024.3.1", "2024-02-30"]]  # the second block: none
    expected = values.parse_dates.__wrapped__(pd.Series(block[::-1], dtype="str"))  # type: ignore[attr-defined]
    pd.testing.assert_series_equal(second[0], expected[0])
    assert second[1].tolist() == expected[1].tolist() == first[1].tolist()[::-1]
    # Past MEMO_LIMIT distinct texts the memo starts afresh with the block's own texts.
    third = parse_dates(pd.Series(["2024/3/2", "20240303", "2024年3月4日"] * 4, dtype="str"))
    assert parsed[1:] == [["2024/3/2", "20240303", "2024年3月4日"]]
    assert third[0].dt.day.tolist() == [2, 3, 4] * 4 and third[1].all()
    parse_dates(pd.Series(block, dtype="str"))
    assert parsed[2:] == [["2024-03-01", "2024.3.1", "2024-02-30"]]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.sampled_from(["网办", "窗口", "网上办理", "网", ""])), max_size=30
    )
)
def test_synonyms_are_replaced_like_pandas_replace(cells: list[str | None]) -> None:
    synonyms = {"网办": "网上办理", "窗口": "窗口办理", "网上办理": "网上办理"}
    text = pd.Series(cells, dtype="str", index=range(7, 7 + len(cells)))
    got = values.replace_synonyms(text, synonyms)
    expected = text.replace(synonyms)
    assert list(got.index) == list(text.index)
    assert [None if pd.isna(v) else v for v in got] == [None if pd.isna(v) else v for v in expected]


_DATE_LIKE = st.one_of(
    st.builds(
        lambda y, m, d, sep, time: (
            (f"{y}年{m}月{d}日" if sep == "年" else f"{y}{sep}{m}{sep}{d}") + time
        ),
        # Leap rules (years 0, 4, 100, 1900, 2000), pandas' old bounds, other scripts' digits.
        st.sampled_from(["0000", "0004", "0100", "1900", "2000", "2024", "2262", "9999", "٢٠٢٤"]),
        st.sampled_from(["0", "1", "01", "2", "02", "4", "12", "13", "١"]),
        st.sampled_from(["0", "1", "01", "28", "29", "30", "31", "32", "٣"]),
        st.sampled_from(["-", "/", ".", "", "年"]),
        st.sampled_from(["", " 8:30", " 08:30:00", " 24:99", "T08:30", "\n"]),
    ),
    st.text(alphabet=st.sampled_from(list("0123456789-/.年月日 :\n٢２")), max_size=22),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.none(), _DATE_LIKE), min_size=1, max_size=30))
@example(["1900-02-29", "0100-2-29", "2000/02/29", "0000年2月29日", "٢٠٢٤-01-05", "2024-13-01"])
def test_dates_parsed_cell_by_cell_equal_the_vectorized_parse(cells: list[str | None]) -> None:
    """The two ways `parse_dates` reads a date (a few new spellings one by one in Python,
    many at once with pandas) agree on every text: leap days, year 0, other scripts' digits,
    a trailing newline or time of day."""
    text = pd.Series(cells, dtype="str", index=range(3, 3 + len(cells)))
    by_cell, ok_cell = values._dates_by_cell(text)
    by_column, ok_column = values._dates_by_column(text)
    pd.testing.assert_series_equal(by_cell, by_column)
    pd.testing.assert_series_equal(ok_cell, ok_column)
    assert list(by_cell.index) == list(text.index)
