"""Reading a DOCX back (non-empty texts) for the template tests: every paragraph text, through python-docx's own
API (body, table cells however nested, headers and footers), and small template builders."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

from docx import Document


def _block_texts(container: Any) -> Iterator[str]:
    for p in container.paragraphs:
        if p.text:
            yield p.text
    for table in container.tables:
        for row in table.rows:
            for cell in row.cells:
                yield from _block_texts(cell)


def docx_texts(data: bytes) -> list[str]:
    doc = Document(io.BytesIO(data))
    texts = list(_block_texts(doc))
    for section in doc.sections:
        for part in (
            section.header,
            section.footer,
            section.first_page_header,
            section.first_page_footer,
            section.even_page_header,
            section.even_page_footer,
        ):
            texts.extend(_block_texts(part))
    return texts


def placeholders_left(data: bytes) -> list[str]:
    return [t for t in docx_texts(data) if "{{" in t or "{%" in t or "}}" in t or "%}" in t]


def make_docx(
    paragraphs: Sequence[str | Sequence[str]] = (),
    cells: Sequence[str] = (),
    header: str = "",
    footer: str = "",
) -> bytes:
    """A template: one paragraph per item (a sequence is one paragraph written in several runs,
    as Word splits text), a one-row table of `cells`, a header and a footer."""
    doc = Document()
    for item in paragraphs:
        p = doc.add_paragraph()
        for run in [item] if isinstance(item, str) else item:
            p.add_run(run)
    if cells:
        table = doc.add_table(rows=1, cols=len(cells))
        for cell, text in zip(table.rows[0].cells, cells, strict=True):
            cell.paragraphs[0].add_run(text)
    section = doc.sections[0]
    if header:
        section.header.paragraphs[0].add_run(header)
    if footer:
        section.footer.paragraphs[0].add_run(footer)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
