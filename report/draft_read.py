"""Read a draft report into blocks of text: paragraphs, and each table as one block.

A table is one block (a row per line, cells joined by " | ") so that a row's sub-figure
(其中网上业务) finds its parent in the row above. Markdown and plain text split on blank lines;
the blocks are exact slices of the text (`text_blocks` gives their offsets, for edits).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")


class UnreadableDraft(ValueError):
    """The draft is missing, of a kind not read, or not a valid document."""


def text_blocks(text: str) -> list[tuple[int, str]]:
    """Paragraphs of a text (split on blank lines), each with its offset in the text."""
    blocks, start = [], 0
    for gap in _BLANK_LINE.finditer(text):
        blocks.append((start, text[start : gap.start()]))
        start = gap.end()
    blocks.append((start, text[start:]))
    return [(offset, block) for offset, block in blocks if block.strip()]


CELL_SEPARATOR = " | "


def row_cells(row: Any) -> list[Any]:
    """A table row's cells, a merged cell once (python-docx lists it per grid column)."""
    cells: list[Any] = []
    for cell in row.cells:
        if not cells or cell.text != cells[-1].text:
            cells.append(cell)
    return cells


def _row_text(row: Any) -> str:
    return CELL_SEPARATOR.join(cell.text for cell in row_cells(row))


def item_text(item: Any) -> str:
    """A python-docx paragraph's text, or a table's rows one per line."""
    from docx.table import Table

    if isinstance(item, Table):
        return "\n".join(_row_text(row) for row in item.rows)
    return str(item.text)


def docx_blocks(document: Any) -> list[str]:
    """Paragraphs and tables of a python-docx document, in the order they stand."""
    blocks = (item_text(item) for item in document.iter_inner_content())
    return [block for block in blocks if block.strip()]


def read_blocks(path: Path) -> list[str]:
    """The draft's blocks; UnreadableDraft names what is wrong with the file."""
    suffix = path.suffix.lower()
    if suffix not in (".docx", *TEXT_SUFFIXES):
        raise UnreadableDraft(f"{path.name}: a draft is .docx, .md or .txt")
    from docx.opc.exceptions import OpcError

    try:
        if suffix == ".docx":
            from docx import Document

            return docx_blocks(Document(str(path)))
        return [block for _, block in text_blocks(path.read_text(encoding="utf-8-sig"))]
    except (OSError, OpcError, UnicodeDecodeError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableDraft(f"{path}: cannot read the draft ({exc})") from exc
