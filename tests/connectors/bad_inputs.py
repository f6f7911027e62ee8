"""A corpus of malformed exports, built on demand (a 10 MB cell does not belong in git)."""

from __future__ import annotations

import calendar
import io
import os
from pathlib import Path

import xlsxwriter

from tests.connectors.conftest import REG_HEADER, reg_row


def _reg(month: str) -> str:
    """A registration delivery of one whole month of 2024 (names declare calendar months)."""
    last = calendar.monthrange(2024, int(month))[1]
    return f"registration/经营主体登记业务明细_2024{month}01-2024{month}{last}.csv"


def _xlsx(rows: list[list[str]], sheet: str) -> bytes:
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = book.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            ws.write_string(r, c, cell)
    book.close()
    return buf.getvalue()


def build_corpus(root: Path) -> dict[str, str | None]:
    """Write the corpus under `root` (a landing area); returns relative path -> expected
    quarantine reason (None: any verdict will do, as long as the accounting closes)."""
    expected: dict[str, str | None] = {}

    def put(relative: str, data: bytes, reason: str | None) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expected[relative] = reason

    good = "\n".join([REG_HEADER, *[reg_row(f"DJ{i}") for i in range(30)]]).encode("gb18030")
    put(_reg("01"), good.replace(b"DJ5,", b"DJ\x005,"), "unreadable")  # NUL byte
    mixed = good + "\n".join([reg_row("DJX", name="混合编码公司")]).encode("utf-8") + b"\n"
    put(_reg("02"), mixed, None)  # decodes as GB18030 (with mojibake), rows validated
    huge = reg_row("DJ99", name="大" * (5 * 1024 * 1024))
    put(_reg("03"), (REG_HEADER + "\n" + huge + "\n").encode("utf-8"), None)
    put(_reg("04"), (REG_HEADER + "\n").encode("gb18030"), "empty")
    formula = "\n".join(
        [
            REG_HEADER,
            reg_row("DJ1", name="=cmd|' /C calc'!A0", applied="2024-05-02", approved="2024-05-05"),
            reg_row("DJ2", name="+SUM(A1)", applied="2024-05-02", approved="2024-05-05"),
        ]
    )
    put(_reg("05"), formula.encode("gb18030"), None)
    put(_reg("06"), b"", "empty")
    put(_reg("07"), "\ufeff业务流水号\n\n".encode(), "missing_column")
    put(_reg("08"), os.urandom(2048), None)  # checked separately: any verdict, closes
    text = "\n".join([REG_HEADER, *[reg_row(f"DJ{i}") for i in range(30)]])
    put(_reg("09"), text.encode("utf-16"), "encoding")  # with its byte-order mark
    put(_reg("10"), text.encode("utf-16-le"), "encoding")  # without
    put(_reg("11"), bytes(4096), "unreadable")  # zeros: corrupt, not UTF-16

    food = [
        ["食品经营许可办件明细表"],
        ["导出时间"],
        [
            "办件编号",
            "许可证编号",
            "经营者名称",
            "申请事项",
            "含保健食品销售",
            "受理日期",
            "办结日期",
            "办理结果",
        ],
    ]
    book = _xlsx(
        food
        + [["SP1", "JY12345678901234", "甲", "新办", "否", "2024-01-02", "2024-01-03", "准予许可"]],
        "办件明细",
    )
    put(
        "food_license/食品经营许可办件明细_20240101-20240131.xlsx",
        book[: len(book) // 2],
        "unreadable",
    )
    put(
        "food_license/食品经营许可办件明细_20240201-20240229.xlsx",
        b"PK\x03\x04 not a zip",
        "unreadable",
    )

    deep = '{"total": 1, "records": [' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "]}"
    put("special_equipment/特种设备使用登记_20240101-20240131.json", deep.encode(), "unreadable")
    put(
        "special_equipment/特种设备使用登记_20240201-20240229.json",
        b'{"total": 3, "records": [{"regNo": "A"',
        "truncated",
    )
    put("special_equipment/特种设备使用登记_20240301-20240331.json", b"[1, 2, 3]", "unreadable")
    # Not deliveries: ignored and reported, never read.
    put("registration/~$经营主体登记业务明细_20240101-20240131.csv", good, None)
    put("registration/..x.csv", good, None)
    outside = root.parent / f"{root.name}-outside.csv"
    outside.write_bytes(good)
    os.symlink(outside, root / "registration" / "经营主体登记业务明细_20241201-20241231.csv")
    for name in (
        "registration/~$经营主体登记业务明细_20240101-20240131.csv",
        "registration/..x.csv",
    ):
        expected.pop(name)
    return expected
