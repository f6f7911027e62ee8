"""Issue 25 items 1-2 at the connector: what a reader had to guess at is a row reject or a
quarantine, and a workbook beyond its bounds is refused before it is parsed (inline bytes;
the same cases run through the whole pipeline in tests/hostile)."""

from __future__ import annotations

import io
import json
import zipfile

import openpyxl

from tests.connectors.conftest import REG_HEADER, csv_bytes, reg_row

CASES_HEADER = [
    "案件编号",
    "案件名称",
    "案件类别",
    "立案日期",
    "结案日期",
    "案件状态",
    "程序类型",
    "处罚裁量",
    "罚没金额(元)",
    "是否移送公安",
    "承办机构",
    "专项行动",
    "当事人类型",
    "当事人名称",
    "当事人证件号码",
]


def _rows(n: int) -> list[str]:
    return [reg_row(txn=f"DJ{i}") for i in range(n)]


def _case_row(i: int, penalty: object = "1000") -> list[object]:
    return [
        f"江蓬市监处罚〔2024〕{i}号",
        "某案",
        "食品",
        "2024-01-02",
        "2024-01-20",
        "已结案",
        "一般程序",
        "一般",
        penalty,
        "否",
        "北街所",
        None,
        "单位",
        "某公司",
        "91440703MA4UJ4X93F",
    ]


def _workbook(sheets: list[tuple[str, int, str]], formula_at: int | None = None) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows, state in sheets:
        sheet = book.create_sheet(name)
        sheet.sheet_state = state
        sheet.append(CASES_HEADER)
        for i in range(rows):
            sheet.append(_case_row(i, "=430000" if i == formula_at else "1000"))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_formula_without_its_value_is_a_rejected_row_not_a_zero(extract) -> None:
    batch = extract("cases", _workbook([("案件列表", 30, "visible")], formula_at=4))
    assert batch.verdict == "readable"
    assert batch.rows_read == 30 and batch.rows_accepted == 29
    [reject] = batch.rejects.to_dict("records")
    assert (reject["reason"], reject["column"], reject["line"]) == (
        "formula_without_value",
        "罚没金额(元)",
        6,
    )


def test_hidden_sheets_are_never_read_and_two_answering_sheets_refuse_the_workbook(
    extract,
) -> None:
    hidden_first = _workbook([("案件列表", 5, "hidden"), ("案件列表 ", 30, "visible")])
    assert extract("cases", hidden_first).rows_read == 30
    twins = extract("cases", _workbook([("案件列表", 30, "visible"), (" 案件列表", 3, "visible")]))
    assert (twins.verdict, twins.reason) == ("quarantine", "unreadable")
    assert "2 sheets answer" in (twins.detail or "")


def test_a_stray_quote_pair_spanning_rows_refuses_the_file(extract) -> None:
    rows = _rows(60)
    rows[9] = rows[9].replace(",", ',"', 1)
    rows[49] = rows[49].replace(",", '",', 1)
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert (batch.verdict, batch.reason) == ("quarantine", "unreadable"), batch.detail
    assert "line break" in (batch.detail or "")


def test_a_quote_open_at_the_end_is_truncated(extract) -> None:
    rows = _rows(60)
    rows[55] = rows[55].replace(",", ',"', 1)
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert (batch.verdict, batch.reason) == ("quarantine", "truncated"), batch.detail


def test_rows_above_the_header_are_counted_and_rejected(extract) -> None:
    rows = _rows(60)
    batch = extract("registration", csv_bytes(rows[0], [rows[1], REG_HEADER, *rows[2:]]))
    assert batch.rows_read == 60 and batch.rows_accepted == 58
    assert set(batch.rejects["reason"]) == {"above_header"}
    assert sorted(batch.rejects["line"]) == [1, 2]


def test_cr_only_line_ends_are_read(extract) -> None:
    data = ("\r".join([REG_HEADER, *_rows(30)]) + "\r").encode("gb18030")
    batch = extract("registration", data)
    assert (batch.verdict, batch.rows_accepted) == ("readable", 30), batch.detail


def test_a_json_key_given_twice_is_quarantined(extract) -> None:
    record = {
        "regNo": "R1",
        "equipCode": "E1",
        "equipCategory": "电梯",
        "useUnit": "某公司",
        "unitCount": 1,
        "approvalStatus": "受理",
        "applyDate": 1704200000000,
        "approveDate": None,
    }
    text = json.dumps({"total": 1, "records": [record]}, ensure_ascii=False)
    text = text[:-1] + ', "records": [], "total": 0}'
    batch = extract("special_equipment", text.encode())
    assert (batch.verdict, batch.reason) == ("quarantine", "unreadable")
    assert "'records' is given twice" in (batch.detail or "")


def _with_sheet(data: bytes, change) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            part = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                part = change(part)
            dst.writestr(info.filename, part, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_workbooks_beyond_their_bounds_are_too_large_before_parsing(extract) -> None:
    base = _workbook([("案件列表", 3, "visible")])
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    far_cell = _with_sheet(base, lambda p: p.replace(b"</sheetData>", far + b"</sheetData>"))
    big = b'<c r="Z2" t="inlineStr"><is><t>' + b"A" * (2 << 20) + b"</t></is></c>"
    big_cell = _with_sheet(base, lambda p: p.replace(b"</row>", big + b"</row>", 1))
    for data in (far_cell, big_cell):
        batch = extract("cases", data)
        assert (batch.verdict, batch.reason) == ("quarantine", "too_large"), batch.detail
    dtd = _with_sheet(base, lambda p: b'<!DOCTYPE x [<!ENTITY a "a">]>' + p)
    assert extract("cases", dtd).reason == "unreadable"
