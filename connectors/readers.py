"""Generic readers, one per format: bytes of an export -> a table of text cells.

Readers know layouts (encodings, title rows, footers, JSON envelopes), not sources' rules.
They take file objects, so tests feed them inline bytes. This module dispatches on the format
(`connectors.csv_reader`, `connectors.xlsx_reader`, `connectors.json_reader`; the header and
footer of a grid in `connectors.layout`) and hands the rows over in blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from connectors.csv_reader import csv_grid, stream_csv
from connectors.json_reader import json_records, json_table
from connectors.layout import locate
from connectors.raw_table import Export, FileRejected, RawTable
from connectors.sources import Source
from connectors.xlsx_reader import xlsx_grid

BLOCK_ROWS = 131_072  # rows handed to the connector at once (XLSX, JSON, whole-file CSV)


def _slices(table: RawTable, rows: int) -> Callable[[], Iterator[RawTable]]:
    def blocks() -> Iterator[RawTable]:
        for start in range(0, table.rows, rows):
            yield table.slice(start, start + rows)

    return blocks


def read_export(fp: IO[bytes], source: Source, extension: str, *, stream: bool = True) -> Export:
    """Read one export of `source` (the whole file object, from its start). Raises
    FileRejected with a reason code.

    CSV is streamed block by block (`stream`) unless the streaming parser gives up
    (StreamFailed, raised while iterating): callers then read again with `stream=False`.
    XLSX and JSON documents are parsed whole, then handed over in blocks.
    """
    if extension != source.extension:
        raise FileRejected(
            "unreadable", f"a .{extension} file where {source.code} exports are .{source.extension}"
        )
    if source.format == "csv" and stream:
        return stream_csv(fp, source)
    fp.seek(0)
    data = fp.read()
    if not data:
        raise FileRejected("empty", "the file is empty (0 bytes)")
    if source.format == "json":
        frame, total = json_records(data, source)
        del data
        table = json_table(frame, total, source)
        return Export(blocks=_slices(table, BLOCK_ROWS), declared_total=total)
    warnings: list[str] = []
    formulas: dict[int, set[int]] = {}
    if source.format == "csv":
        grid = csv_grid(data, source)
    else:
        grid = xlsx_grid(data, source, warnings, formulas)
    del data
    table = locate(grid, source, formulas=formulas, csv_text=source.format == "csv")
    return Export(blocks=_slices(table, BLOCK_ROWS), warnings=warnings)
