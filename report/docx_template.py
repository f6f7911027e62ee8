"""Render a Word document staff own (docxtpl): the figures fill its placeholders, its chapters,
prose and styles stay as they are.

A placeholder naming no catalog code fails the whole render with one line naming the code and
quoting the placeholder's paragraph, so a typo never reaches a published document. Incomplete
figures print with their mark ※; their notes are listed at the end of the document under 注.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt
from docxtpl import DocxTemplate
from jinja2 import Environment, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Engine

from connectors.cadence import DEFAULT_DUE_DAY
from metrics.catalog import Catalog, load_catalog
from metrics.coverage import figure_coverage
from metrics.engine import scope_for
from metrics.mart import mart_figures
from report.figures import CutOff, FigureContext, MissingName, UnknownCode, note_lines
from report.model import period_text

SHIPPED_TEMPLATES = ("statistics", "rule_of_law")
NOTES_TITLE = "注:标注※的数据不完整"
_PLACEHOLDER = re.compile(r"\{[{%]")


class TemplateFigureError(ValueError):
    """The template cannot be rendered: an unknown code, a bad cut-off or broken Jinja."""


class IncompleteTemplate(Exception):
    """A final document was asked for while figures it states lack periods."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(f"{len(lines)} figure(s) incomplete")
        self.lines = lines


def shipped_template(name: str) -> Path:
    """A template the project ships (report/templates/<name>.docx)."""
    if name not in SHIPPED_TEMPLATES:
        raise ValueError(f"no shipped template {name!r}; choose from {SHIPPED_TEMPLATES}")
    return Path(__file__).resolve().parent / "templates" / f"{name}.docx"


def resolve_template(text: str) -> Path:
    """`--template`: a shipped template's name, else a path to a .docx file."""
    if text in SHIPPED_TEMPLATES:
        return shipped_template(text)
    path = Path(text)
    if path.suffix.lower() != ".docx" or not path.is_file():
        raise ValueError(
            f"{text!r} is neither a .docx file nor a shipped template {SHIPPED_TEMPLATES}"
        )
    return path


def document_paragraphs(doc: Any) -> Iterator[str]:
    """The text of every paragraph: body (tables included, nested too), headers and footers."""
    parts = [doc.element.body]
    for section in doc.sections:
        for part in (section.header, section.footer, section.first_page_header):
            if not part.is_linked_to_previous:
                parts.append(part._element)
    for element in parts:
        for p in element.iter(qn("w:p")):
            yield "".join(t.text or "" for t in p.iter(qn("w:t")))


def _paragraph_of(template: bytes, code: str) -> str | None:
    """The first placeholder paragraph of the template that uses `code`."""
    token = re.compile(rf"(?<!\w){re.escape(code)}(?![\w])")
    for text in document_paragraphs(Document(io.BytesIO(template))):
        if _PLACEHOLDER.search(text) and token.search(text):
            return text.strip()
    return None


def _quote(text: str | None, limit: int = 120) -> str:
    if text is None:
        return ""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return f" in paragraph «{shown}»"


def _environment(context: FigureContext) -> Environment:
    """Sandboxed: a document arrives from an office, its Jinja reaches no Python internals."""
    env = SandboxedEnvironment(undefined=MissingName, autoescape=True)
    env.filters.update(context.filters())
    return env


def _append_notes(doc: Any, lines: list[str]) -> None:
    """注 and one line per incomplete figure, in the document's body style, after the last
    paragraph (staff move it where they like)."""
    heading = doc.add_paragraph()
    heading.paragraph_format.space_before = Pt(12)
    run = heading.add_run(NOTES_TITLE)
    run.bold = True
    run.font.size = Pt(10.5)
    for line in lines:
        doc.add_paragraph().add_run(line).font.size = Pt(10.5)


def render_template(template: bytes, context: FigureContext) -> bytes:
    """The rendered document; raises `TemplateFigureError` (one line) when it cannot be."""
    document = DocxTemplate(io.BytesIO(template))
    try:
        document.render(context.variables(), jinja_env=_environment(context), autoescape=True)
    except UnknownCode as exc:
        raise TemplateFigureError(
            f"{exc.why} {exc.code}{_quote(_paragraph_of(template, exc.code))}"
        ) from None
    except TemplateError as exc:
        lines = [line.strip() for line in getattr(exc, "docx_context", ()) if line.strip()]
        near = f" near «{lines[len(lines) // 2][:120]}»" if lines else ""
        raise TemplateFigureError(f"template error: {exc.message or exc}{near}") from None
    doc = document.docx
    lines = note_lines(context.notes, context.main.day)
    if lines:
        _append_notes(doc, lines)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def template_context(
    engine: Engine,
    year: int,
    as_of: date | None = None,
    *,
    region: str | None = None,
    bureau: str | None = None,
    as_known_at: datetime | None = None,
    catalog: Catalog | None = None,
    due_day: int = DEFAULT_DUE_DAY,
) -> FigureContext:
    """The names a template sees for the year: the mart's figures at the cut-off (refreshed
    first, as `report` does) and at any other cut-off a placeholder asks for."""
    catalog = catalog or load_catalog()
    scope = scope_for(year, as_of, as_known_at, region)
    window, region = scope.window, scope.region

    def figures_at(day: date) -> CutOff:
        values = mart_figures(
            engine,
            year,
            day,
            as_known_at=as_known_at,
            region=region,
            catalog=catalog,
            refresh=True,
        )
        coverage = figure_coverage(engine, year, day, as_known_at, catalog, region, due_day=due_day)
        return CutOff(min(day, window.end), values, coverage)

    return FigureContext(
        year,
        figures_at(window.as_of),
        labels={m.code: m.label for m in catalog},
        figures_at=figures_at,
        plain={
            "year": year,
            "period": period_text(window),
            "region": region,
            "bureau": bureau or f"{region}市场监督管理局",
            "cut_off": f"{window.end.year}年{window.end.month}月{window.end.day}日",
        },
    )


def write_template_report(
    engine: Engine,
    template: Path,
    year: int,
    as_of: date | None,
    out_dir: Path,
    final: bool = False,
    **names: Any,
) -> Path:
    """Render `template` for the year into `out_dir` as `<template>_<year>[_<yyyymmdd>].docx`;
    `final` refuses (`IncompleteTemplate`, nothing written) when a figure it states is marked."""
    context = template_context(engine, year, as_of, **names)
    rendered = render_template(template.read_bytes(), context)
    if final and len(context.notes):
        raise IncompleteTemplate(
            [f"{n.code} {n.label} (as of {n.cut_off}): {n.text}" for n in context.notes]
        )
    end = context.main.day
    stem = f"{template.stem}_{year}" + ("" if end == date(year, 12, 31) else f"_{end:%Y%m%d}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.docx"
    path.write_bytes(rendered)
    return path
