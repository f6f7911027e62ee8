"""The offices' workbook of the `manual` source: the empty template they fill in, or (for the
demo) the same workbook filled, so a filled template loads without any edit of its layout.

The layout is the source's declaration (connectors/sources.py: sheet, header row, headers);
the figures' labels and units are the catalog's (source `manual`). Row 1 tells how to fill the
sheet, row 2 is the header, then one row per figure with its code, label and unit written in.
The codes are also listed on a second sheet, which the code column's drop-down list reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import xlsxwriter

from connectors.sources import MANUAL, MANUAL_RATES
from metrics.catalog import Catalog, load_catalog

CODES_SHEET = "指标目录"
# Helper columns beside the declared ones: read by people, ignored by the connector.
LABEL_HEADER, UNIT_HEADER = "指标名称", "计量单位"


@dataclass(frozen=True)
class Entry:
    """What an office types for one figure (the demo's filled workbook)."""

    as_of: date
    value: Decimal
    evidence: str
    entered_by: str


def file_name(year: int, version: int = 1) -> str:
    """`手工填报指标_2024.xlsx`; a correction `_v2` supersedes the whole year."""
    suffix = f"_v{version}" if version > 1 else ""
    return f"{MANUAL.file_stem}_{year}{suffix}.{MANUAL.extension}"


def instructions(year: int) -> str:
    headers = {c.field: c.header for c in MANUAL.columns}
    return (
        f"填写说明:每个指标一行,{headers['code']}从下拉列表选择(见“{CODES_SHEET}”);"
        f"{headers['as_of']}为该数值的统计截止日,须在{year}年内;{headers['value']}只填数字,"
        f"不得为负,比率(%)为0–100;{headers['evidence']}必填(如文件文号);"
        f"{headers['entered_by']}填写姓名。未填报的指标请删除该行。"
        f"文件名为{file_name(year)},更正时整本另存为{file_name(year, 2)}。"
    )


def write_workbook(
    path: Path,
    year: int,
    catalog: Catalog | None = None,
    entries: Mapping[str, Entry] | None = None,
) -> Path:
    """Write the workbook for `year` at `path`: empty (a template) or with `entries` typed in."""
    catalog = catalog or load_catalog()
    metrics = [m for m in catalog if m.source == MANUAL.code]
    headers = {c.field: c.header for c in MANUAL.columns}
    order: Sequence[str] = ("code", "label", "unit", "as_of", "value", "evidence", "entered_by")
    shown = {**headers, "label": LABEL_HEADER, "unit": UNIT_HEADER}
    column = {name: i for i, name in enumerate(order)}
    created = datetime(year, 1, 1)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    wb.set_properties({"created": created, "author": "bureau-stats", "title": MANUAL.label})
    ws = wb.add_worksheet(MANUAL.sheet)
    listing = wb.add_worksheet(CODES_SHEET)
    bold = wb.add_format({"bold": True})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    note = wb.add_format({"text_wrap": True, "valign": "top"})
    for name, width in zip(order, (36, 30, 10, 12, 12, 28, 12), strict=True):
        ws.set_column(column[name], column[name], width)
    ws.merge_range(0, 0, 0, len(order) - 1, instructions(year), note)
    ws.set_row(0, 48)
    ws.write_row(MANUAL.header_row - 1, 0, [shown[n] for n in order], bold)
    listing.write_row(0, 0, [headers["code"], LABEL_HEADER, UNIT_HEADER], bold)
    first = MANUAL.header_row
    for i, metric in enumerate(metrics):
        r = first + i
        listing.write_row(i + 1, 0, [metric.code, metric.label, metric.unit])
        ws.write_string(r, column["code"], metric.code)
        ws.write_string(r, column["label"], metric.label)
        ws.write_string(r, column["unit"], metric.unit)
        entry = (entries or {}).get(metric.code)
        if entry is not None:
            moment = datetime.combine(entry.as_of, datetime.min.time())
            ws.write_datetime(r, column["as_of"], moment, date_fmt)
            ws.write_number(r, column["value"], entry.value)  # type: ignore[arg-type]
            ws.write_string(r, column["evidence"], entry.evidence)
            ws.write_string(r, column["entered_by"], entry.entered_by)
    last = first + max(len(metrics), 1) + 200  # room for more cut-offs of the same figures
    ws.data_validation(
        first,
        column["code"],
        last,
        column["code"],
        {"validate": "list", "source": f"='{CODES_SHEET}'!$A$2:$A${len(metrics) + 1}"},
    )
    ws.data_validation(
        first,
        column["as_of"],
        last,
        column["as_of"],
        {
            "validate": "date",
            "criteria": "between",
            "minimum": datetime(year, 1, 1),
            "maximum": datetime(year, 12, 31),
        },
    )
    ws.data_validation(
        first,
        column["value"],
        last,
        column["value"],
        {"validate": "decimal", "criteria": ">=", "value": 0},
    )
    ws.write_comment(
        first - 1,
        column["value"],
        "比率(" + "、".join(MANUAL_RATES) + ")为0–100",
    )
    ws.freeze_panes(first, 1)
    wb.close()
    return path
