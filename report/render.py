"""Lay out a `ReportData` as Markdown, self-contained HTML and DOCX.

Markdown and HTML come from the editable templates in report/templates/; the DOCX is built
with python-docx from the same data and passages (fonts set for Chinese: 宋体 body, 黑体
headings, so Word and LibreOffice do not fall back to a Latin font).
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from sqlalchemy import Engine

from connectors.cadence import DEFAULT_DUE_DAY
from metrics.coverage import incomplete_line
from report.model import FigureRow, ReportData, build_report, template_environment

log = logging.getLogger(__name__)
# Incomplete figures named in the log line (a year nothing was delivered for has them all).
LOGGED_FIGURES = 8

FORMATS = ("md", "html", "docx")
BODY_FONT = ("SimSun", "宋体")
HEADING_FONT = ("SimHei", "黑体")


class ReportNames(Protocol):
    """Whose report it is: the plain values the report needs (the settings object has them;
    the report never imports the settings)."""

    @property
    def region(self) -> str: ...

    @property
    def bureau(self) -> str | None: ...


class IncompleteReport(Exception):
    """A final report was asked for while figures lack periods (`rows`: those figures)."""

    def __init__(self, rows: tuple[FigureRow, ...]) -> None:
        super().__init__(f"{len(rows)} figure(s) incomplete")
        self.rows = rows

    def lines(self) -> list[str]:
        """One line per incomplete figure: code, label, missing periods and reasons."""
        return [incomplete_line(r.code, r.label, r.coverage) for r in self.rows]


def parse_formats(text: str | Iterable[str]) -> list[str]:
    """`md,docx,html` -> ["md", "docx", "html"]; unknown names are an error."""
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = [f.strip().lower().lstrip(".") for f in items if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown report format(s) {unknown or text!r}; choose from {FORMATS}")
    return list(dict.fromkeys(formats))


def _environment(templates_dir: Path | None) -> Any:
    env = template_environment(templates_dir)
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.autoescape = lambda name: bool(name and name.endswith(".html.j2"))
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    return env


def render_markdown(report: ReportData, templates_dir: Path | None = None) -> str:
    return str(_environment(templates_dir).get_template("report.md.j2").render(r=report))


def render_html(report: ReportData, templates_dir: Path | None = None) -> str:
    return str(_environment(templates_dir).get_template("report.html.j2").render(r=report))


# ------------------------------------------------------------------------------- DOCX


def _set_font(target: Any, fonts: tuple[str, str], size: float | None = None) -> None:
    """Latin and East-Asian font of a style or run (theme fonts removed so they apply)."""
    target.font.name = fonts[0]
    if size is not None:
        target.font.size = Pt(size)
    rpr = target.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:ascii"), fonts[0])
    rfonts.set(qn("w:hAnsi"), fonts[0])
    rfonts.set(qn("w:eastAsia"), fonts[1])


def _styled_document() -> Any:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.6)
    section.top_margin = section.bottom_margin = Cm(2.5)
    _set_font(doc.styles["Normal"], BODY_FONT, 12)
    for name, size in (("Title", 20), ("Heading 1", 15), ("Heading 2", 13)):
        style = doc.styles[name]
        _set_font(style, HEADING_FONT, size)
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.font.bold = True
    _set_font(doc.styles["Table Grid"], BODY_FONT, 9)
    return doc


def _run(
    paragraph: Any,
    text: str,
    fonts: tuple[str, str] = BODY_FONT,
    size: float | None = None,
    bold: bool = False,
) -> Any:
    run = paragraph.add_run(text)
    _set_font(run, fonts, size)
    run.bold = bold or None
    return run


def _table(
    doc: Any,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Sequence[int] = (),
    widths: Sequence[float] = (),
    size: float = 9,
) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        _run(cell.paragraphs[0], text, HEADING_FONT, size, bold=True)
    for values in rows:
        cells = table.add_row().cells
        for i, (cell, text) in enumerate(zip(cells, values, strict=True)):
            if i in numeric:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
            _run(cell.paragraphs[0], text, BODY_FONT, size)
    if widths:
        table.autofit = False
        for i, width in enumerate(widths):
            table.columns[i].width = Cm(width)
            for row in table.rows:
                row.cells[i].width = Cm(width)


def render_docx(report: ReportData) -> bytes:
    doc = _styled_document()
    title = doc.add_paragraph(style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(title, report.title, HEADING_FONT, 20, bold=True)
    meta = doc.add_paragraph()
    meta.alignment = WD_ALIGN_PARAGRAPH.CENTER
    known = f";数据口径:仓库截至 {report.as_known_at} 所知" if report.as_known_at else ""
    _run(meta, f"统计期间:{report.period}(截至 {report.window_end}){known}", size=10.5)
    if report.incomplete_note:
        warning = doc.add_paragraph()
        warning.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _run(warning, report.incomplete_note, size=10.5, bold=True)

    for area in report.areas:
        heading = doc.add_paragraph(style="Heading 1")
        _run(heading, f"{area.number}、{area.title}", HEADING_FONT, 15, bold=True)
        for passage in area.passages:
            p = doc.add_paragraph()
            p.paragraph_format.first_line_indent = Pt(24)
            p.paragraph_format.line_spacing = 1.5
            _run(p, passage, size=12)
        header = ["指标", f"{report.year}年", "单位"]
        numeric = [1]
        if area.has_previous:
            header += ["上年同期", "增减", "增幅"]
            numeric += [3, 4, 5]
        rows = []
        for f in area.rows:
            row = [f.label, f.marked, f.unit]
            if area.has_previous:
                row += [f.previous_text, f.change_text, f.change_pct_text]
            rows.append(row)
        widths = (5.0, 2.2, 1.6, 2.4, 2.4, 2.2) if area.has_previous else (8.0, 4.0, 3.8)
        _table(doc, header, rows, numeric=numeric, widths=widths)
        for note in area.notes:
            _run(doc.add_paragraph(), note, size=9)
        if area.chart_png:
            doc.add_picture(io.BytesIO(area.chart_png), width=Cm(15.5))
            doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            caption = doc.add_paragraph()
            caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _run(caption, f"图{area.number} {area.title}主要指标月度趋势", size=10.5)

    heading = doc.add_paragraph(style="Heading 1")
    _run(heading, "附录一 数据来源(每项数据的来源文件)", HEADING_FONT, 15, bold=True)
    _table(
        doc,
        ["指标", "数值", "来源文件(计入行数)"],
        ([f"{f.label}({f.code})", f.marked, f.files_text] for f in report.figures),
        numeric=[1],
        widths=(4.2, 2.0, 9.6),
        size=8,
    )
    heading = doc.add_paragraph(style="Heading 1")
    _run(heading, "附录二 数据质量", HEADING_FONT, 15, bold=True)
    if report.quality_note:
        doc.add_paragraph(report.quality_note)
    _table(
        doc,
        ["数据源", "文件数", "已发布", "被替代", "隔离", "读取", "接收", "拒绝", "重复"],
        (
            [
                q.label,
                *map(
                    str,
                    (
                        q.files,
                        q.published,
                        q.superseded,
                        q.quarantined,
                        q.rows_read,
                        q.rows_accepted,
                        q.rows_rejected,
                        q.rows_duplicate,
                    ),
                ),
            ]
            for q in report.quality
        ),
        numeric=list(range(1, 9)),
        widths=(4.6, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4),
    )
    p = doc.add_paragraph()
    if report.quarantines:
        _run(p, "隔离文件(未计入任何数据):", size=10.5)
        for q in report.quarantines:
            item = doc.add_paragraph(style="List Bullet")
            _run(
                item,
                f"{q.name}({q.source}):{q.reason},读取{q.rows_read}行,拒绝{q.rows_rejected}行",
                size=10.5,
            )
    else:
        _run(p, "本年度无隔离文件。", size=10.5)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- entry point


def write_report(
    report: ReportData, out_dir: Path, formats: Sequence[str], templates_dir: Path | None = None
) -> list[Path]:
    """Write the chosen formats (and, with Markdown, its chart PNGs) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in parse_formats(formats):
        path = out_dir / f"{report.file_stem}.{fmt}"
        if fmt == "md":
            for area in report.areas:
                if area.chart_png:
                    chart = out_dir / area.chart_file
                    chart.write_bytes(area.chart_png)
                    written.append(chart)
            path.write_text(render_markdown(report, templates_dir), encoding="utf-8")
        elif fmt == "html":
            path.write_text(render_html(report, templates_dir), encoding="utf-8")
        else:
            path.write_bytes(render_docx(report))
        written.append(path)
    return written


def render_report(
    engine: Engine,
    year: int,
    as_of: date | None,
    out_dir: Path,
    formats: Sequence[str] | str = FORMATS,
    settings: ReportNames | None = None,
    *,
    region: str | None = None,
    bureau: str | None = None,
    as_known_at: datetime | None = None,
    templates_dir: Path | None = None,
    refresh: bool = False,
    due_day: int | None = None,
    final: bool = False,
) -> list[Path]:
    """Write the year's report from the mart's figures (`refresh`: refresh that cut-off in the
    mart first); returns the files written. `final`: write nothing and raise `IncompleteReport`
    when a figure lacks a period (a report filed as final must have every period).

    The bureau, region and due day are plain values (`settings`, for callers that have one, is
    anything with `.region`, `.bureau` and `.delivery_due_day`): the report does not read the
    settings itself.
    """
    region = region or getattr(settings, "region", None)
    bureau = bureau or getattr(settings, "bureau", None)
    due_day = due_day or getattr(settings, "delivery_due_day", None) or DEFAULT_DUE_DAY
    fmts = parse_formats(formats)
    report = build_report(
        engine,
        year,
        as_of,
        region=region,
        bureau=bureau,
        as_known_at=as_known_at,
        templates_dir=templates_dir,
        refresh=refresh,
        due_day=due_day,
    )
    if final and report.incomplete:
        raise IncompleteReport(tuple(report.incomplete))
    if report.incomplete:  # also where an operator looks: the terminal, the flow run's log
        named = report.incomplete[:LOGGED_FIGURES]
        rest = len(report.incomplete) - len(named)
        log.warning(
            "report %s: %d figure(s) incomplete, marked in the report: %s%s",
            year,
            len(report.incomplete),
            "; ".join(incomplete_line(r.code, r.label, r.coverage) for r in named),
            f"; and {rest} more (`bureau-stats metrics --year {year} --json` lists each)"
            if rest
            else "",
        )
    return write_report(report, Path(out_dir), fmts, templates_dir)
