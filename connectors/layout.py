"""Where the data is in a grid of cells: the header row, blank lines, the footer.

Shared by the CSV and XLSX readers (the grid of a sheet or of a CSV file looks the same): the
header row is found among the first rows, declared columns are mapped to fields, blank lines
and a 合计/总计 footer dropped, and rows read with a doubt are marked (data rows above the
header, formulas without a value). A CSV line break where the contract declares none refuses
the file.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from connectors.raw_table import FileRejected, RawTable, concat_tables
from connectors.sources import Source
from connectors.values import TEXT, normalize_text

HEADER_SEARCH_ROWS = 20
FOOTER_PREFIXES = ("合计", "总计")


def header_key(text: object) -> str:
    """Headers are matched leniently: NFKC, no spaces, no BOM."""
    value = unicodedata.normalize("NFKC", str(text or "")).replace("\ufeff", "")
    return "".join(value.split())


def _blank_rows(normalized: pd.DataFrame) -> np.ndarray:
    if normalized.shape[1] == 0:
        return np.ones(len(normalized), dtype=bool)
    return np.array(normalized.isna().all(axis=1).to_numpy(dtype=bool), copy=True)


@dataclass
class Layout:
    """Where the header is and which grid column holds each declared field."""

    header_at: int
    positions: dict[str, int]
    extra: list[int]  # grid columns holding no declared field


def find_layout(head: pd.DataFrame, source: Source, *, whole: bool) -> Layout:
    """The header row among the first rows of the grid (`whole`: `head` is the whole grid)."""
    if head.empty:
        raise FileRejected("empty", "no rows at all")
    wanted = {header_key(c.header): c.field for c in source.columns}
    head = head.head(HEADER_SEARCH_ROWS * 10)
    head_blank = _blank_rows(pd.DataFrame({c: normalize_text(head[c]) for c in head.columns}))
    header_at = None
    for i in np.flatnonzero(~head_blank)[:HEADER_SEARCH_ROWS]:
        keys = {header_key(v) for v in head.iloc[i].tolist()}
        if len(keys & wanted.keys()) * 2 >= len(wanted):
            header_at = int(i)
            break
    if header_at is None:
        if head_blank.all() and whole:
            raise FileRejected("empty", "only blank lines")
        raise FileRejected(
            "missing_column",
            "no header row with the declared columns (expected "
            + ", ".join(c.header for c in source.columns)
            + ")",
        )
    positions: dict[str, int] = {}
    for pos, value in enumerate(head.iloc[header_at].tolist()):
        found = wanted.get(header_key(value))
        if found and found not in positions:
            positions[found] = pos
    missing = [c.header for c in source.columns if c.field not in positions]
    if missing:
        raise FileRejected("missing_column", "missing columns: " + ", ".join(missing))
    extra = [c for c in head.columns if c not in positions.values()]
    return Layout(header_at, {c.field: positions[c.field] for c in source.columns}, extra)


@dataclass
class Cut:
    """Data rows of a stretch of the grid, and the cells of its last one (footer check)."""

    table: RawTable
    last_cells: list[str]


def cut_rows(body: pd.DataFrame, layout: Layout, first_line: int) -> Cut:
    """Declared columns of grid rows (`first_line` = line of body's first row), blanks out."""
    raw = pd.DataFrame({f: body[pos] for f, pos in layout.positions.items()}).reset_index(drop=True)
    norm = pd.DataFrame({f: normalize_text(raw[f]) for f in layout.positions})
    # Cells beyond the declared columns count too: a row is blank only when every cell is.
    extra = [c for c in layout.extra if c in body.columns]
    blank = _blank_rows(norm)
    if extra and blank.any():
        rest = body[extra].reset_index(drop=True)
        blank &= _blank_rows(pd.DataFrame({c: normalize_text(rest[c]) for c in extra}))
    keep = np.flatnonzero(~blank)
    last_cells = [str(v) for v in body.iloc[keep[-1]].tolist()] if len(keep) else []
    if len(keep) < len(raw):
        raw = raw.iloc[keep].reset_index(drop=True)
        norm = norm.iloc[keep].reset_index(drop=True)
    return Cut(RawTable(raw=raw, normalized=norm, lines=keep + first_line), last_cells)


def without_footer(cut: Cut) -> RawTable:
    """The last data row of the file is dropped when it is a 合计/总计 line."""
    first_text = next((v.strip(" \u3000") for v in cut.last_cells if v.strip(" \u3000")), "")
    table = cut.table
    if table.rows and first_text.startswith(FOOTER_PREFIXES):
        return table.head(table.rows - 1)
    return table


def _may_hold_line_breaks(cells: pd.Series) -> bool:
    """Whether the column's text bytes hold a CR or LF at all: one pass over Arrow's data
    buffers (~20x faster than a per-cell search, which runs only when this says yes)."""
    try:
        array = pa.chunked_array(pa.array(cells, type=pa.large_string()))
    except (pa.ArrowException, TypeError, ValueError):
        return True
    for chunk in array.chunks:
        data = chunk.buffers()[2]
        if data is not None:
            octets = np.frombuffer(data, dtype=np.uint8)
            if (octets == 10).any() or (octets == 13).any():
                return True
    return False


def refuse_line_breaks(grid: pd.DataFrame, layout: Layout, source: Source, row0: int) -> None:
    """A CSV cell holding a line break where the contract declares none (`Column.multiline`):
    a stray or unclosed quote has made one cell of several lines, and which rows they were
    cannot be told. Rejecting the one row would publish the file without the rows swallowed,
    so the file is refused. `row0`: the CSV row of the grid's first row (1-based)."""
    allowed = {layout.positions[c.field] for c in source.columns if c.multiline}
    by_position = {pos: source.column(f).header for f, pos in layout.positions.items()}
    for col in grid.columns:
        if col in allowed:
            continue
        if not _may_hold_line_breaks(grid[col]):
            continue
        cells = grid[col].astype(TEXT) if grid[col].dtype != TEXT else grid[col]
        hit = cells.str.contains("\n", regex=False) | cells.str.contains("\r", regex=False)
        hit = hit.fillna(False).to_numpy(dtype=bool)
        if hit.any():
            row = row0 + int(np.flatnonzero(hit)[0])
            name = by_position.get(col, f"column {col + 1}")
            raise FileRejected(
                "unreadable",
                f"CSV row {row}: a line break inside a {name} cell, which holds none: a stray "
                "or unclosed quote joins rows that cannot be told apart",
            )


def above_header(grid: pd.DataFrame, layout: Layout) -> RawTable | None:
    """Data rows above the header line, rejected `above_header` (counted, never dropped). A
    title line (one cell, as the title and export-time rows of food_license) is no data."""
    head = grid.iloc[: layout.header_at]
    if head.empty:
        return None
    filled = np.zeros(len(head), dtype=int)
    for c in head.columns:
        filled += normalize_text(head[c]).notna().to_numpy(dtype=int)
    at = np.flatnonzero(filled >= 2)
    if not len(at):
        return None
    rows = head.iloc[at]
    raw = pd.DataFrame({f: rows[pos] for f, pos in layout.positions.items()}).reset_index(drop=True)
    table = RawTable(
        raw=raw,
        normalized=pd.DataFrame({f: normalize_text(raw[f]) for f in layout.positions}),
        lines=at + 1,
    )
    table.doubt(np.arange(len(at)), "above_header", None)
    return table


def _doubt_formulas(
    table: RawTable, formulas: dict[int, set[int]], layout: Layout, source: Source
) -> None:
    """Rows with a formula cell whose value was not saved (`formula_without_value`): every
    reader takes it as blank, so a 罚没金额 of 430,000 would count as 0."""
    by_position = {pos: source.column(f).header for f, pos in layout.positions.items()}
    where = {line: i for i, line in enumerate(table.lines.tolist()) if line in formulas}
    for line, i in where.items():
        declared = sorted(c for c in formulas[line] if c in by_position)
        if declared:
            table.doubt(np.array([i]), "formula_without_value", by_position[declared[0]])


def locate(
    grid: pd.DataFrame,
    source: Source,
    *,
    formulas: dict[int, set[int]] | None = None,
    csv_text: bool = False,
) -> RawTable:
    """Find the header row, drop blank lines and the footer, map headers to fields; rows read
    with a doubt are marked (formulas without a value, data rows above the header)."""
    layout = find_layout(grid, source, whole=len(grid) <= HEADER_SEARCH_ROWS * 10)
    if csv_text:
        refuse_line_breaks(grid, layout, source, 1)
    body = grid.iloc[layout.header_at + 1 :]
    table = without_footer(cut_rows(body, layout, layout.header_at + 2))
    if table.rows == 0:
        raise FileRejected("empty", "a header but no data rows")
    if formulas:
        _doubt_formulas(table, formulas, layout, source)
    above = above_header(grid, layout)
    return table if above is None else concat_tables(above, table)
