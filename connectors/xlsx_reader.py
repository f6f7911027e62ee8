"""The XLSX reader: the declared sheet of a workbook as a grid of text cells.

The workbook is looked over first (`connectors.xlsx_scan`: its bounds, the sheet, formulas
saved without a value), then its cells are read as Arrow columns (`connectors.xlsx_columns`),
or, when that read cannot give the same texts, cell by cell by calamine and turned into the
texts a spreadsheet shows (`connectors.xlsx_cells`).
"""

from __future__ import annotations

import pandas as pd

from connectors.sources import Source
from connectors.xlsx_cells import sheet_cells, text_grid
from connectors.xlsx_columns import column_grid
from connectors.xlsx_scan import scan_workbook

# Below this many rows the per-cell read costs less than the Arrow one's fixed cost per column
# (a sample export of 75 rows: 4 ms against 7 ms; 8,000 rows: 67 ms against 40 ms, CPU).
COLUMNS_FROM_ROWS = 2_000


def xlsx_grid(
    data: bytes,
    source: Source,
    warnings: list[str],
    formulas: dict[int, set[int]] | None = None,
) -> pd.DataFrame:
    """The declared sheet's cells; `formulas` receives its formula cells without a cached
    value (sheet row -> grid columns). The workbook is looked over first
    (`connectors.xlsx_scan`): its bounds, and the sheet to read."""
    scan = scan_workbook(data, source.sheet)
    warnings.extend(scan.warnings)
    if formulas is not None:
        formulas.update(scan.formulas)
    if scan.rows >= COLUMNS_FROM_ROWS and not scan.iso_dates:
        grid = column_grid(data, scan)
        if grid is not None:
            return grid
    return cell_grid(data, scan.sheet)


def cell_grid(data: bytes, sheet_name: str) -> pd.DataFrame:
    """The per-cell path: every cell a Python value (python-calamine), then its text."""
    # The texts of `excel_cell_text`, converted a column at a time by cell type.
    return text_grid(sheet_cells(data, sheet_name))
