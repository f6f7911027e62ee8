"""Hostile deliveries for the readers (issue 25 items 1-2), and ones that passed before it.

Each case writes a delivery dated in `year` (the runner passes the year after its valid
year, so a published hostile file leaves the valid year's figures alone), built from a demo
export of that year. `extra`: `rows_accepted` (exact count expected), `identities` (resident IDs
written that must never appear in clear), `read_ahead` ("process": a case that killed the
reader process must run in one, not in the test process).
"""

from __future__ import annotations

import functools
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corpus import HostileCase

SHEET = "案件列表"
HEADERS = (
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
)
PERSON_ID = "440703198001010020"  # valid GB 11643 check digit (checked in test_corpus)
PERSON = "张三丰"


@functools.cache
def template(year: int) -> Path:
    """A demo landing area of `year` (registration, special_equipment), made once."""
    from demo_data import generate

    root = Path(tempfile.mkdtemp(prefix=f"hostile-template-{year}-"))
    generate(year, root, scale=0.05, sources=["registration", "special_equipment"])
    return root


def _name(source: str, year: int, ext: str, version: int = 0) -> str:
    from connectors.sources import SOURCES

    stem = SOURCES[source].file_stem
    tail = f"_v{version}" if version else ""
    return f"{source}/{stem}_{year}0101-{year}0131{tail}.{ext}"


def _template_bytes(source: str, year: int, ext: str) -> bytes:
    return (template(year) / _name(source, year, ext)).read_bytes()


def _put(landing: Path, relative: str, data: bytes) -> list[str]:
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return [relative]


# --- registration CSV ----------------------------------------------------------------------


def _registration_lines(year: int) -> tuple[list[str], str]:
    """Lines of a valid registration export (header first) and its encoding."""
    data = _template_bytes("registration", year, "csv")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8").splitlines(), "utf-8-sig"
    return data.decode("gb18030").splitlines(), "gb18030"


def _registration(landing: Path, year: int, lines: list[str], encoding: str, end: str = "\r\n"):
    data = end.join(lines).encode(encoding) + end.encode()
    return _put(landing, _name("registration", year, "csv"), data)


def _csv_case(change: Callable[[list[str]], list[str]], end: str = "\r\n") -> Callable:
    def write(landing: Path, year: int) -> list[str]:
        lines, encoding = _registration_lines(year)
        return _registration(landing, year, change(list(lines)), encoding, end)

    return write


def _stray_quotes(lines: list[str]) -> list[str]:
    """A quote opened in a row near the top and closed far below: one cell of many rows."""
    first, last = 10, min(len(lines) - 5, 190)
    lines[first] = lines[first].replace(",", ',"', 1)
    lines[last] = lines[last].replace(",", '",', 1)
    return lines


def _quote_open_at_end(lines: list[str]) -> list[str]:
    at = len(lines) - 5
    lines[at] = lines[at].replace(",", ',"', 1)
    return lines


def _rows_above_header(lines: list[str]) -> list[str]:
    return [*lines[1:4], lines[0], *lines[4:]]


def _sql_text(lines: list[str]) -> list[str]:
    cells = lines[5].split(",")
    cells[2] = "x'); DROP TABLE batch; --"
    lines[5] = ",".join(cells)
    return lines


def _big_cell(size: int) -> Callable[[list[str]], list[str]]:
    def change(lines: list[str]) -> list[str]:
        cells = lines[5].split(",")
        cells[2] = "名" * size
        lines[5] = ",".join(cells)
        return lines

    return change


def _mixed_encodings(landing: Path, year: int) -> list[str]:
    lines, _ = _registration_lines(year)
    half = len(lines) // 2
    data = ("\r\n".join(lines[:half]) + "\r\n").encode("gb18030")
    data += ("\r\n".join(lines[half:]) + "\r\n").encode("utf-8")
    return _put(landing, _name("registration", year, "csv"), data)


def _long_line(landing: Path, year: int) -> list[str]:
    """One line of 32 MiB, no line end (the issue's 200 MB line, kept small for CI)."""
    lines, encoding = _registration_lines(year)
    data = (lines[0] + "\r\n").encode(encoding) + b"A" * (32 << 20)
    return _put(landing, _name("registration", year, "csv"), data)


def _symlink_out(landing: Path, year: int) -> list[str]:
    outside = landing.parent / "outside.csv"
    lines, encoding = _registration_lines(year)
    outside.write_bytes("\r\n".join(lines).encode(encoding))
    relative = _name("registration", year, "csv")
    (landing / relative).parent.mkdir(parents=True, exist_ok=True)
    (landing / relative).symlink_to(outside)
    return [relative]


# --- special_equipment JSON ----------------------------------------------------------------


def _json_duplicate_keys(landing: Path, year: int) -> list[str]:
    """`records` and `total` given twice: json.loads would keep the second of each."""
    document = json.loads(_template_bytes("special_equipment", year, "json"))
    records = document["records"]
    text = json.dumps(document, ensure_ascii=False)
    extra = json.dumps(records[:1], ensure_ascii=False)
    text = text[:-1] + f', "records": {extra}, "total": 1}}'
    return _put(landing, _name("special_equipment", year, "json"), text.encode())


# --- cases XLSX ----------------------------------------------------------------------------


def case_rows(year: int, n: int = 30) -> list[list[Any]]:
    """`n` valid rows of a cases export for January of `year`; the last is a natural person."""
    rows = []
    for i in range(n):
        rows.append(
            [
                f"江蓬市监处罚〔{year}〕{900 + i}号",
                f"某某商行{i}销售过期食品案",
                "食品",
                f"{year}-01-{1 + i % 28:02d}",
                f"{year}-02-{1 + i % 28:02d}",
                "已结案",
                "一般程序",
                "一般",
                "1000",
                "否",
                "北街市场监督管理所",
                None,
                "单位",
                f"某某商行{i}",
                "91440703QTK2GPARDC",
            ]
        )
    rows[-1][12:15] = ["个人", PERSON, PERSON_ID]
    rows[-1][1] = f"{PERSON}销售过期食品案"
    return rows


def _workbook(sheets: list[tuple[str, list[list[Any]], str]]) -> bytes:
    """(name, rows, state) per sheet; the header row is written first in each."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows, state in sheets:
        sheet = book.create_sheet(name)
        sheet.sheet_state = state
        sheet.append(list(HEADERS))
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx(make: Callable[[int], bytes]) -> Callable[[Path, int], list[str]]:
    def write(landing: Path, year: int) -> list[str]:
        return _put(landing, _name("cases", year, "xlsx"), make(year))

    return write


def _formula_without_value(year: int) -> bytes:
    rows = case_rows(year)
    rows[4][8] = "=430000"  # saved by a program that never computed it: no cached value
    return _workbook([(SHEET, rows, "visible")])


def _hidden_sheet_first(year: int) -> bytes:
    decoy = case_rows(year, 5)
    for row in decoy:
        row[8] = "9999999"
    return _workbook([(SHEET, decoy, "hidden"), (f"{SHEET} ", case_rows(year), "visible")])


def _two_sheets(year: int) -> bytes:
    return _workbook(
        [(SHEET, case_rows(year), "visible"), (f" {SHEET}", case_rows(year, 5), "visible")]
    )


def _rewrite(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """A copy of a workbook with some parts changed (None: left out) or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            part = change(info.filename, src.read(info.filename))
            if part is not None:
                dst.writestr(info.filename, part, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _cell_at_xfd1048576(year: int) -> bytes:
    """A few KB whose one far cell makes a reader allocate 16,384 x 1,048,576 cells."""

    def change(name: str, part: bytes) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
            part = part.replace(b"</sheetData>", far + b"</sheetData>")
        return part

    return _rewrite(_workbook([(SHEET, case_rows(year, 3), "visible")]), change)


def _declared_dimension(year: int) -> bytes:
    def change(name: str, part: bytes) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            part = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', part)
        return part

    return _rewrite(_workbook([(SHEET, case_rows(year, 3), "visible")]), change)


def _zip_bomb_shared_string(year: int, megabytes: int = 32) -> bytes:
    """A small workbook whose one shared string inflates to `megabytes` MB (the issue's
    600 MB, smaller for CI: any size beyond a cell's limit is the same case)."""
    base = _workbook([(SHEET, case_rows(year, 3), "visible")])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            part = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                part = part.replace(
                    b'<c r="B2" t="inlineStr"><is><t>',
                    b'<c r="B2" t="s"><v>0</v></c><c r="Z2" t="inlineStr"><is><t>',
                )
            if info.filename == "[Content_Types].xml":
                part = part.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            dst.writestr(info.filename, part, zipfile.ZIP_DEFLATED)
        strings = zipfile.ZipInfo("xl/sharedStrings.xml")
        strings.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(strings, "w", force_zip64=True) as fp:
            fp.write(
                b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
                b'spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>'
            )
            for _ in range(megabytes):
                fp.write(b"A" * (1 << 20))
            fp.write(b"</t></si></sst>")
    return out.getvalue()


def _billion_laughs(year: int) -> bytes:
    lol = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]>"
    )

    def change(name: str, part: bytes) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            laughs = b'<row r="40"><c r="A40" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
            body = part.split(b"?>", 1)[1] if part.startswith(b"<?xml") else part
            part = lol + body.replace(b"</sheetData>", laughs + b"</sheetData>")
        return part

    return _rewrite(_workbook([(SHEET, case_rows(year), "visible")]), change)


def _truncated(year: int) -> bytes:
    data = _workbook([(SHEET, case_rows(year), "visible")])
    return data[: len(data) // 2]


def _fake(year: int) -> bytes:
    return b"PK\x03\x04 this is not a workbook\r\n" + "案件编号,案件名称\r\n".encode() * 50


CASES: list[HostileCase] = [
    HostileCase(
        "xlsx_formula_without_value",
        _xlsx(_formula_without_value),
        "published",
        "formula_without_value",
        "罚没金额 =430000 saved without its value: read as blank (0) before",
        {"rows_accepted": 29, "identities": [PERSON_ID]},
    ),
    HostileCase(
        "csv_stray_quotes",
        _csv_case(_stray_quotes),
        "quarantined",
        "unreadable",
        "a quote pair spanning rows 10-190 made one cell of 180 rows",
    ),
    HostileCase(
        "csv_rows_above_header",
        _csv_case(_rows_above_header),
        "published",
        "above_header",
        "three data rows before the header line were dropped uncounted",
    ),
    HostileCase(
        "json_duplicate_keys",
        _json_duplicate_keys,
        "quarantined",
        "unreadable",
        "`records`/`total` given twice: one reading was published",
    ),
    HostileCase(
        "csv_quote_open_at_end",
        _csv_case(_quote_open_at_end),
        "quarantined",
        "truncated",
        "an unterminated quote five rows from the end swallowed the tail",
    ),
    HostileCase(
        "xlsx_hidden_sheet_first",
        _xlsx(_hidden_sheet_first),
        "published",
        None,
        "a hidden sheet of the declared name before the visible one was read instead",
        {"rows_accepted": 30, "identities": [PERSON_ID]},
    ),
    HostileCase(
        "xlsx_two_sheets_answer_to_the_name",
        _xlsx(_two_sheets),
        "quarantined",
        "unreadable",
        "two visible sheets '案件列表' and ' 案件列表': which one is the table?",
        {"identities": [PERSON_ID]},
    ),
    HostileCase(
        "csv_cr_only_line_ends",
        _csv_case(lambda lines: lines, end="\r"),
        "published",
        None,
        "old Mac Excel: CR alone ends lines; was refused as unreadable",
    ),
    HostileCase(
        "xlsx_cell_at_xfd1048576",
        _xlsx(_cell_at_xfd1048576),
        "quarantined",
        "too_large",
        "one cell at XFD1048576: the reader aborted (SIGABRT) allocating the range",
        {"read_ahead": "process", "identities": [PERSON_ID]},
    ),
    HostileCase(
        "xlsx_declared_dimension_huge",
        _xlsx(_declared_dimension),
        "quarantined",
        "too_large",
        "<dimension ref='A1:XFD1048576'> over three rows",
        {"read_ahead": "process"},
    ),
    HostileCase(
        "xlsx_zip_bomb_shared_string",
        _xlsx(_zip_bomb_shared_string),
        "quarantined",
        "too_large",
        "one shared string inflating to 32 MB (600 MB in the issue: the reader aborted)",
        {"read_ahead": "process"},
    ),
    # --- handled before issue 25: kept so that they stay handled --------------------------
    HostileCase("xlsx_billion_laughs", _xlsx(_billion_laughs), "quarantined", "unreadable"),
    HostileCase("xlsx_truncated", _xlsx(_truncated), "quarantined", "unreadable"),
    HostileCase("xlsx_fake", _xlsx(_fake), "quarantined", "unreadable"),
    HostileCase(
        "csv_long_line",
        _long_line,
        "quarantined",
        None,
        "a 32 MiB line without an end (200 MB in the issue)",
    ),
    HostileCase(
        "csv_10mb_cell",
        _csv_case(_big_cell(1 << 20)),
        "published",
        None,
        "a 3 MB 主体名称 (1 Mi characters; 10 MB in the issue): no length is set, the row is kept",
    ),
    HostileCase("csv_sql_text", _csv_case(_sql_text), "published", None),
    HostileCase("csv_mixed_encodings", _mixed_encodings, "quarantined", "encoding"),
    HostileCase("symlink_out_of_landing", _symlink_out, None),
]
