"""A file's warning lines as rules with row counts (what the summary and the ledger show)."""

from __future__ import annotations

from connectors.file_warnings import FileWarning, classify, summarize
from connectors.xlsx_scan import choose_sheet

FUTURE = (
    "expect_column_values_to_be_between(concluded_on) failed [not after today (many future "
    "dates suggest a misread date format)]: 3 of 120 rows unexpected (2.5 % > tolerated 0.0 %)"
)
YTD = (
    "蓬江区 2024-02: 专利授权量(本年累计) fell from 83 to 80 "
    "(a year-to-date figure; kept, as a revision may lower it)"
)


def test_each_producers_line_is_classified() -> None:
    assert classify(FUTURE) == FileWarning("future_date", "concluded_on", 3)
    assert classify(YTD) == FileWarning("ytd_decrease", "专利授权量(本年累计)", 1)
    sheet: list[str] = []
    assert choose_sheet([("Sheet1", "visible", "xl/worksheets/sheet1.xml")], "案件列表", sheet)[
        0
    ] == ("Sheet1")
    assert [classify(line) for line in sheet] == [FileWarning("single_sheet")]
    assert classify("something new") == FileWarning("other")


def test_lines_add_up_per_rule_and_column() -> None:
    lines = [YTD, FUTURE, YTD.replace("蓬江区", "江海区"), FUTURE.replace("3 of", "2 of")]
    assert summarize(lines) == [
        FileWarning("ytd_decrease", "专利授权量(本年累计)", 2),
        FileWarning("future_date", "concluded_on", 5),
    ]
    assert summarize([]) == []
