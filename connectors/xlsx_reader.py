"""The XLSX reader: the declared sheet of a workbook as a grid of text cells.

The workbook is looked over first (`connectors.xlsx_scan`: its bounds, the sheet, formulas
saved without a value), then its cells are read by calamine and turned into the texts a
spreadsheet shows (`connectors.xlsx_cells`).
"""

from __future__ import annotations

import io

import pandas as pd

from connectors.raw_table import FileRejected
from connectors.sources import Source
from connectors.xlsx_cells import text_grid
from connectors.xlsx_scan import scan_workbook


def xlsx_grid(
    data: bytes,
    source: Source,
    warnings: list[str],
    formulas: dict[int, set[int]] | None = None,
) -> pd.DataFrame:
    """The declared sheet's cells; `formulas` receives its formula cells without a cached
    value (sheet row -> grid columns). The workbook is looked over first
    (`connectors.xlsx_scan`): its bounds, and the sheet to read."""
    import python_calamine

    scan = scan_workbook(data, source.sheet)
    warnings.extend(scan.warnings)
    if formulas is not None:
        formulas.update(scan.formulas)
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises several error types for broken zips/XML
        raise FileRejected(
            "unreadable", f"not a readable XLSX workbook ({type(exc).__name__})"
        ) from None
    sheet_name = scan.sheet
    try:
        rows = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    except Exception as exc:
        raise FileRejected(
            "unreadable", f"sheet {sheet_name!r} cannot be read ({type(exc).__name__})"
        ) from None
    # The texts of `excel_cell_text`, converted a column at a time by cell type.
    return text_grid(rows)
