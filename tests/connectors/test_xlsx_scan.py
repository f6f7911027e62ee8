"""The workbook scan's extent check: a block is passed on a bound (two searches) only when the
exact check would pass it too, so a cell placed anywhere beyond the limits is still refused."""

from __future__ import annotations

import io
import random
import re
import zipfile

import pytest

from connectors import xlsx_scan
from connectors.raw_table import FileRejected
from connectors.xlsx_scan import (
    CHUNK,
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    column_number,
    scan_workbook,
)

SHEET = "案件列表"


def letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def workbook(rows: int, columns: int, extra: dict[int, str] | None = None) -> bytes:
    """A sheet of `rows` x `columns` inline-string cells; `extra` puts one more cell (its
    reference) at the end of the given row."""
    extra = extra or {}
    body = []
    for r in range(1, rows + 1):
        cells = "".join(
            f'<c r="{letters(c)}{r}" t="inlineStr"><is><t>v{r}-{c}</t></is></c>'
            for c in range(1, columns + 1)
        )
        if r in extra:
            cells += f'<c r="{extra[r]}" t="inlineStr"><is><t>x</t></is></c>'
        body.append(f'<row r="{r}">{cells}</row>')
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{''.join(body)}</sheetData></worksheet>"
    )
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    book = (
        f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
        f'<sheet name="{SHEET}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    rels = (
        f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
        f'Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", book)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return out.getvalue()


def exact_extent(data: bytes) -> tuple[int, int]:
    """Every cell reference read one by one: the largest row and column."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    refs = re.findall(rb'<c\b[^>]*?\sr="([A-Z]{1,4})(\d{1,9})"', xml)
    return max(int(r) for _, r in refs), max(column_number(c) for c, _ in refs)


def beyond_limits(rows: int, columns: int) -> bool:
    return rows > MAX_ROWS or columns > MAX_COLUMNS or rows * columns > MAX_CELLS


# 12,000 rows x 6 columns: about 2.5 MiB of XML, so several blocks of the scan
ROWS, COLUMNS = 12_000, 6


def test_the_sheet_spans_several_blocks() -> None:
    with zipfile.ZipFile(io.BytesIO(workbook(ROWS, COLUMNS))) as z:
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size > 2 * CHUNK


def test_an_ordinary_sheet_passes_with_its_last_row() -> None:
    scan = scan_workbook(workbook(ROWS, COLUMNS), SHEET)
    assert scan.rows == ROWS


@pytest.mark.parametrize(
    ("at_row", "ref"),
    [
        (9_000, "XFD9000"),  # the widest column, late in the sheet: 9,000 x 16,384 cells
        (9_000, "ZZZ9000"),  # beyond Excel's last column
        (11_000, "A1048577"),  # beyond Excel's last row
        (11_000, "B2000000"),  # a row number with one digit more
        (6_000, "AAA6000"),  # 703 columns x 12,000 rows = 8.4 M: within the limits
        (6_000, "Z999999"),  # 999,999 rows x 26 columns = 26 M cells: beyond
        (6_000, "F999999"),  # 999,999 rows x 6 columns: within
        (7_000, "G7000"),  # one column more than the others: within
    ],
)
def test_a_cell_far_out_in_a_later_block_gets_the_exact_verdict(at_row: int, ref: str) -> None:
    data = workbook(ROWS, COLUMNS, {at_row: ref})
    rows, columns = exact_extent(data)
    if beyond_limits(rows, columns):
        with pytest.raises(FileRejected) as refused:
            scan_workbook(data, SHEET)
        assert refused.value.reason == "too_large"
    else:
        scan_workbook(data, SHEET)


def test_random_placements_agree_with_reading_every_reference() -> None:
    rng = random.Random(20241207)
    for _ in range(12):
        row = rng.randrange(1, ROWS // 2)
        column = rng.choice([1, 6, 7, 26, 27, 52, 700, 703, 2_000, 16_384, 16_385])
        number = rng.choice([row, 99_999, 100_000, 999_999, 1_048_576, 1_048_577])
        data = workbook(ROWS // 2, COLUMNS, {row: f"{letters(column)}{number}"})
        rows, columns = exact_extent(data)
        try:
            scan_workbook(data, SHEET)
            refused = False
        except FileRejected as exc:
            assert exc.reason == "too_large"
            refused = True
        assert refused == beyond_limits(rows, columns), (column, number)


def test_a_far_row_within_the_digits_is_refused_when_the_bound_is_too_wide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where 99,999 rows x the columns is beyond the cells allowed, the blocks are read cell by
    cell: a row of the same five digits is found (limit lowered, so the sheet stays small)."""
    monkeypatch.setattr(xlsx_scan, "MAX_CELLS", 500_000)  # 99,999 x 6 = 600 k: beyond
    scan_workbook(workbook(16_000, COLUMNS), SHEET)  # 16,000 x 6 = 96 k: passes
    # in the last block (rows from about 12,200), once five-digit rows are the bound
    data = workbook(16_000, COLUMNS, {15_900: "A90000"})  # 90,000 x 6 = 540 k
    with pytest.raises(FileRejected) as refused:
        scan_workbook(data, SHEET)
    assert refused.value.reason == "too_large"


# Rare things placed in a later block, each of which the one-pass triage must not pass over.
LATE_CELLS = {
    "formula without a value": '<c r="B9000"><f>SUM(A1:A2)</f></c>',
    "ISO-dated cell": '<c r="B9000" t="d"><v>2024-03-01</v></c>',
    "datetime spelled as text": '<c r="B9000" t="inlineStr"><is><t>2024-03-01 10:00:00</t></is></c>',
    "boolean spelled as text": '<c r="B9000" t="inlineStr"><is><t>true</t></is></c>',
    "rich text": '<c r="B9000" t="inlineStr"><is><r><t>2024-03-01 10:00:00</t></r></is></c>',
    "character reference": '<c r="B9000" t="inlineStr"><is><t>&#50;024</t></is></c>',
    "formula string": '<c r="B9000" t="str"><f>A1</f><v>false</v></c>',
    "a cell far to the right": '<c r="XFD9000" t="inlineStr"><is><t>x</t></is></c>',
    "a long text": f'<c r="B9000" t="inlineStr"><is><t>{"x" * (xlsx_scan.MAX_CELL_BYTES + 1)}</t></is></c>',
}


def with_late_cell(cell: str) -> bytes:
    """The 12,000-row workbook with `cell` in place of row 9,000's second cell."""
    data = workbook(ROWS, COLUMNS)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    plain = '<c r="B9000" t="inlineStr"><is><t>v9000-2</t></is></c>'
    assert plain in sheet
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(plain, cell).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in parts.items():
            z.writestr(name, body)
    return out.getvalue()


def scan_or_refusal(data: bytes) -> object:
    try:
        return vars(scan_workbook(data, SHEET))
    except FileRejected as exc:
        return exc.reason, exc.detail


@pytest.mark.parametrize("what", sorted(LATE_CELLS))
def test_the_triage_finds_what_the_exact_checks_find(
    what: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each block is first searched once for anything rare; the scan must come out as when
    every block goes through every exact check (the triage made to always answer yes)."""
    data = with_late_cell(LATE_CELLS[what])
    triaged = scan_or_refusal(data)
    monkeypatch.setattr(xlsx_scan, "_matches", lambda block, pattern: True)
    assert triaged == scan_or_refusal(data)
    assert triaged != vars(scan_workbook(workbook(ROWS, COLUMNS), SHEET))  # it was found
