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

from docx import Document

from metrics.catalog import load_catalog
from report.draft_check import Statement, find_statements
from report.draft_read import item_text, text_blocks

YEAR = 2024
_DIGITS = re.compile(r"\d+(?:\.\d+)?")


def _altered(figure: str) -> str:
    """The figure with its first number changed so no rounding can make it equal again."""
    found = _DIGITS.search(figure)
    assert found is not None, figure
    old = found.group()
    last_place = Decimal(1).scaleb(Decimal(old).as_tuple().exponent)  # type: ignore[arg-type]
    new = str(Decimal(old) + 7 + 7 * last_place if last_place < 1 else Decimal(old) + 7)
    return figure[: found.start()] + new + figure[found.end() :]


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
        at = offsets[s.block][0]
        text = text[: at + s.start] + _altered(text[at + s.start : at + s.end]) + text[at + s.end :]
    return text, [s.code for s in chosen]


def alter_docx(source: Path, target: Path, count: int = 3, year: int = YEAR) -> list[str]:
    """Write `target`: the DOCX `source` with `count` figures of its paragraphs altered."""
    document = Document(str(source))
    items = [i for i in document.iter_inner_content() if item_text(i).strip()]
    blocks = [item_text(i) for i in items]
    statements, _ = find_statements(blocks, load_catalog(), year)
    in_paragraphs = [s for s in statements if not hasattr(items[s.block], "rows")]
    chosen = pick(in_paragraphs, count)
    for s in sorted(chosen, key=lambda s: (s.block, s.start), reverse=True):
        paragraph = items[s.block]
        old = blocks[s.block]
        new_text = old[: s.start] + _altered(old[s.start : s.end]) + old[s.end :]
        blocks[s.block] = new_text
        runs = list(paragraph.runs)
        runs[0].text = new_text  # the paragraph keeps its first run's formatting
        for run in runs[1:]:
            run.text = ""
    document.save(str(target))
    return [s.code for s in chosen]
