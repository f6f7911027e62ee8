"""Alter the figures of a draft by hand, as a careless editor would: reusable by any test that
checks a draft (a Markdown/text draft or a DOCX, e.g. one rendered from a template).

`alter_text(text, 3)` / `alter_docx(src, dst, 3)` change the number of three statements of three
different figures (found by the draft matcher, written in Arabic digits and without a
qualifier) and return the codes they altered; `check-draft` must then report exactly those
codes as mismatches.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from docx import Document
from docx.table import Table

from metrics.catalog import load_catalog
from report.draft_check import Statement, find_statements
from report.draft_read import CELL_SEPARATOR, item_text, row_cells, text_blocks

YEAR = 2024
_DIGITS = re.compile(r"\d+(?:\.\d+)?")


def _altered(number: str) -> str:
    """The number changed so no rounding can make it equal again (20025 → 20032, 99.77 → 106.84)."""
    last_place = Decimal(1).scaleb(Decimal(number).as_tuple().exponent)  # type: ignore[arg-type]
    return str(Decimal(number) + 7 + 7 * last_place if last_place < 1 else Decimal(number) + 7)


def _digits(block: str, s: Statement) -> tuple[int, int]:
    """The span of the statement's digits in its block (not its unit or qualifier)."""
    found = _DIGITS.search(block, s.start, s.end)
    assert found is not None, block[s.start : s.end]
    return found.span()


def pick(statements: list[Statement], count: int) -> list[Statement]:
    """`count` statements of different figures, spread over the draft: digits, no qualifier."""
    eligible: dict[str, Statement] = {}
    for s in statements:
        plain = s.written.qualifier is None and _DIGITS.search(s.draft) and "," not in s.draft
        if plain and s.code not in eligible:
            eligible[s.code] = s
    chosen = list(eligible.values())
    assert len(chosen) >= count, f"only {len(chosen)} figures can be altered"
    step = len(chosen) / count
    return [chosen[int(i * step)] for i in range(count)]


def alter_text(text: str, count: int = 3, year: int = YEAR) -> tuple[str, list[str]]:
    """The text with `count` figures altered, and their codes."""
    offsets = text_blocks(text)
    statements, _ = find_statements([b for _, b in offsets], load_catalog(), year)
    chosen = pick(statements, count)
    for s in sorted(chosen, key=lambda s: (s.block, s.start), reverse=True):
        at, block = offsets[s.block]
        start, end = _digits(block, s)
        text = text[: at + start] + _altered(block[start:end]) + text[at + end :]
    return text, [s.code for s in chosen]


def _edit_paragraph(paragraph: Any, text: str, start: int, end: int) -> str:
    runs = list(paragraph.runs)
    runs[0].text = text[:start] + _altered(text[start:end]) + text[end:]
    for run in runs[1:]:  # the paragraph keeps its first run's formatting
        run.text = ""
    return str(runs[0].text)


def _edit_table(table: Any, start: int, end: int) -> None:
    offset = 0
    for row in table.rows:
        for i, cell in enumerate(row_cells(row)):
            offset += len(CELL_SEPARATOR) if i else 0
            text = cell.text
            if offset <= start and end <= offset + len(text):
                a, b = start - offset, end - offset
                cell.text = text[:a] + _altered(text[a:b]) + text[b:]
                return
            offset += len(text)
        offset += 1  # the line end between rows
    raise AssertionError(f"no cell holds {start}..{end}")


def alter_docx(source: Path, target: Path, count: int = 3, year: int = YEAR) -> list[str]:
    """Write `target`: the DOCX `source` with `count` figures altered (paragraphs first, then
    table cells), and return their codes."""
    document = Document(str(source))
    items = [i for i in document.iter_inner_content() if item_text(i).strip()]
    blocks = [item_text(i) for i in items]
    statements, _ = find_statements(blocks, load_catalog(), year)
    chosen = pick(sorted(statements, key=lambda s: isinstance(items[s.block], Table)), count)
    for s in sorted(chosen, key=lambda s: (s.block, s.start), reverse=True):
        start, end = _digits(blocks[s.block], s)
        if isinstance(items[s.block], Table):
            _edit_table(items[s.block], start, end)
        else:
            blocks[s.block] = _edit_paragraph(items[s.block], blocks[s.block], start, end)
    document.save(str(target))
    return [s.code for s in chosen]
