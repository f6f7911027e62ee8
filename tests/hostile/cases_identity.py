"""Hostile deliveries of issue 25 items 3-4: names the contract does not allow, and identity
numbers where the contract does not expect them.

Published cases deliver periods of year + 1, so the year's figures stay as they were. Each
case's `extra["clear"]` lists what must never appear in clear in anything written.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import xlsxwriter

from tests.hostile.corpus import HostileCase

RESIDENT_ID = "440703199001010017"  # valid GB 11643 check digit
OTHER_ID = "44070319880909890X"
USCC = "91440703MA4UJ4X93F"  # valid GB 32100 check character
REG_STEM = "registration/经营主体登记业务明细"
REG_HEADER = "业务流水号,统一社会信用代码,主体名称,主体类型,业务类型,办理渠道,申请日期,核准日期,登记机关,所属镇街"


def _reg_csv(year: int, names: dict[int, str] | None = None, bad_date: int | None = None) -> bytes:
    names = names or {}
    rows = [REG_HEADER]
    for i in range(40):
        approved = f"{year}-13-01" if i == bad_date else f"{year}-01-05"
        rows.append(
            f"HX{year}{i:04d},{USCC},{names.get(i, '甲公司')},企业,设立登记,网办,"
            f"{year}-01-02,{approved},蓬江局,白沙街道"
        )
    return "\n".join(rows).encode("gb18030")


def _write(landing: Path, relative: str, data: bytes) -> None:
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _named(suffix: Callable[[int], str]) -> Callable[[Path, int], list[str]]:
    """A valid registration export under a name the contract does not allow."""

    def write(landing: Path, year: int) -> list[str]:
        relative = suffix(year)
        _write(landing, relative, _reg_csv(year))
        return [relative]

    return write


def _fifo(landing: Path, year: int) -> list[str]:
    relative = f"{REG_STEM}_{year}0101-{year}0131_v7.csv"
    (landing / "registration").mkdir(parents=True, exist_ok=True)
    os.mkfifo(landing / relative)
    return [relative]


def _registration_with_ids(landing: Path, year: int) -> list[str]:
    relative = f"{REG_STEM}_{year + 1}0101-{year + 1}0131.csv"
    names = {3: f"张三{RESIDENT_ID}", 4: f"个体户ID{OTHER_ID}abc", 5: f"商行{RESIDENT_ID}9"}
    data = _reg_csv(year + 1, names, bad_date=6).replace(
        f"HX{year + 1}0006,{USCC},甲公司".encode("gb18030"),
        f"HX{year + 1}0006,{USCC},{RESIDENT_ID}3".encode("gb18030"),  # 19 digits, rejected
    )
    _write(landing, relative, data)
    return [relative]


def _xlsx(sheet: str, rows: list[list[str]]) -> bytes:
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = book.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            ws.write_string(r, c, cell)
    book.close()
    return buf.getvalue()


def _pledgor_person(landing: Path, year: int) -> list[str]:
    y = year + 1
    relative = f"ip_pledge/知识产权质押登记_{y}0101-{y}0630.xlsx"
    rows = [["登记号", "出质人", "质权人", "质押物类型", "登记日期", "质押金额(万元)"]]
    rows += [
        [f"HZ{y}{i:03d}", "甲科技有限公司", "乙银行", "专利", f"{y}-01-05", "100"]
        for i in range(40)
    ]
    rows[1][1] = f"王小明({RESIDENT_ID})"
    _write(landing, relative, _xlsx("质押登记", rows))
    return [relative]


CASES_HEADER = [
    "案件编号", "案件名称", "案件类别", "立案日期", "结案日期", "案件状态", "程序类型", "处罚裁量",
    "罚没金额(元)", "是否移送公安", "承办机构", "专项行动", "当事人类型", "当事人名称", "当事人证件号码",
]  # fmt: skip


def _person_typed_as_company(landing: Path, year: int) -> list[str]:
    y = year + 1
    relative = f"cases/行政处罚案件_{y}0101-{y}0131.xlsx"
    rows = [CASES_HEADER]
    for i in range(40):
        person = i == 0
        name = "李四海" if person else "甲公司"
        rows.append(
            [
                f"HC{y}-{i}", f"{name}销售过期食品案", "食品", f"{y}-01-03", "", "调查中",
                "一般程序", "", "0", "否", f"联系人{OTHER_ID}" if i == 1 else "所", "", "单位",
                name, RESIDENT_ID if person else USCC,
            ]
        )  # fmt: skip
    _write(landing, relative, _xlsx("案件列表", rows))
    return [relative]


def _markup_in_a_rejected_cell(landing: Path, year: int) -> list[str]:
    relative = f"{REG_STEM}_{year + 1}0201-{year + 1}0229.csv"
    if (year + 1) % 4:
        relative = relative.replace("0229", "0228")
    data = _reg_csv(year + 1, {2: "[/x][bold]甲\x1b[2J"}, bad_date=2).replace(
        f"{year + 1}-01-".encode(), f"{year + 1}-02-".encode()
    )
    _write(landing, relative, data)
    return [relative]


CASES: list[HostileCase] = [
    HostileCase(
        "name_ends_in_newline",
        _named(lambda y: f"{REG_STEM}_{y}0101-{y}0131_v9.csv\n"),
        None,
        notes="`$` matched before the newline: taken as a correction of January",
    ),
    HostileCase(
        "name_with_control_characters",
        _named(lambda y: f"{REG_STEM}_{y}0101-{y}0131.csv\x1b[2J"),
        None,
        notes="reached the terminal raw (clears the screen)",
    ),
    HostileCase(
        "version_beyond_64_bits",
        _named(lambda y: f"{REG_STEM}_{y}0101-{y}0131_v99999999999999999999.csv"),
        None,
        notes="OverflowError in every run",
    ),
    HostileCase(
        "period_1900_to_2099",
        _named(lambda y: f"{REG_STEM}_19000101-20991231.csv"),
        None,
        notes="superseded every month of the year: 设立登记 1,397 -> 112",
    ),
    HostileCase(
        "period_not_a_calendar_month",
        _named(lambda y: f"{REG_STEM}_{y}0115-{y}0214.csv"),
        None,
    ),
    HostileCase(
        "name_with_rich_markup_draft",
        _named(lambda y: f"registration/经营主体登记业务明细[draft]_{y}0101-{y}0131.csv"),
        None,
        notes="shown as the correctly named file (Rich ate `[draft]`)",
    ),
    HostileCase(
        "folder_with_rich_markup",
        _named(lambda y: f"registration[/x]/经营主体登记业务明细_{y}0101-{y}0131.csv"),
        None,
        notes="MarkupError in every run",
    ),
    HostileCase("fifo_named_like_a_delivery", _fifo, None, notes="hung the run"),
    HostileCase(
        "resident_ids_in_registration",
        _registration_with_ids,
        "published",
        reason="bad_date",
        notes="IDs glued to letters, inside a longer run, a 19-digit typo in a rejected row",
        extra={"clear": [RESIDENT_ID, OTHER_ID, RESIDENT_ID[:17]]},
    ),
    HostileCase(
        "natural_person_pledgor",
        _pledgor_person,
        "published",
        notes="name and ID of an individual pledgor in ip_pledge",
        extra={"clear": [RESIDENT_ID, "王小明", "小明"]},
    ),
    HostileCase(
        "person_typed_as_company",
        _person_typed_as_company,
        "published",
        reason="bad_check_digit",
        notes="a resident ID in 当事人证件号码 of a 单位 row: a person, masked and hashed",
        extra={"clear": [RESIDENT_ID, OTHER_ID, "李四海", "四海"]},
    ),
    HostileCase(
        "rich_markup_in_a_rejected_cell",
        _markup_in_a_rejected_cell,
        "published",
        reason="bad_date",
        notes="crashed `rejects` (MarkupError)",
    ),
]
