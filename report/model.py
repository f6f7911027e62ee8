"""What the annual report shows, gathered from the warehouse in one place.

The renderers (Markdown, HTML, DOCX) only lay out a `ReportData`. Its figures (this year's and
last year's) are the metrics mart's rows, the ones the run's refresh computed
(`metrics.mart.mart_figures`); the monthly series and the lineage come from the metric engine,
the data quality from the batch ledger.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined
from sqlalchemy import Engine, and_, case, exists, func, select

from connectors.bureau_time import BUREAU_TZ
from connectors.cadence import DEFAULT_DUE_DAY
from connectors.sources import SOURCES
from metrics.catalog import AREA_LABELS, AREAS, Catalog, load_catalog
from metrics.coverage import COMPLETE, Coverage, figure_coverage
from metrics.delivered import delivered_sources
from metrics.engine import (
    Value,
    Window,
    compute_monthly,
    latest_months,
    render_value,
    scope_for,
    visible,
)
from metrics.lineage import Contribution, figure_contributions
from metrics.mart import mart_figures
from report.charts import Series, trend_chart
from warehouse.schema import batch, source_table

NO_DATA = "无数据"
AREA_NUMBERS = {"licensing": "一", "enforcement": "二", "ip": "三", "legal": "四"}
AREA_LATIN = {
    "licensing": "Licensing",
    "enforcement": "Enforcement",
    "ip": "Intellectual property",
    "legal": "Rule of law",
}


@dataclass(frozen=True)
class FigureRow:
    """One metric as the report prints it, with last year's figure and its source files."""

    code: str
    label: str
    unit: str
    value: Value
    text: str
    previous: Value = None
    previous_text: str = "—"
    change_text: str = "—"
    change_pct_text: str = "—"
    has_previous: bool = False
    files: tuple[Contribution, ...] = ()

    derived: bool = False
    # Which periods the figure lacks; an incomplete figure carries note number `note_no`.
    coverage: Coverage = COMPLETE
    note_no: int = 0

    @property
    def mark(self) -> str:
        """`[注3]` beside an incomplete figure, wherever it stands; "" when complete."""
        return "" if self.coverage.complete else f"[注{self.note_no}]"

    @property
    def marked(self) -> str:
        """The value as printed, with its mark."""
        return f"{self.text}{self.mark}"

    @property
    def footnote(self) -> str:
        """`[注3] 未含2024年9月数据(…)`: figures lacking the same periods share one note."""
        return f"{self.mark} {self.coverage.note()}" if not self.coverage.complete else ""

    @property
    def files_text(self) -> str:
        """Source files, the common name stem once: `行政处罚案件_*.xlsx: 20240101-20240131(58行)、…`.

        Rows are shown for figures counted from rows; a derived figure (ratio, yoy) lists the
        files of its components once each.
        """
        if not self.files:
            return "(无来源数据)"
        groups: dict[str, list[str]] = {}
        seen: set[int] = set()
        for c in self.files:
            if self.derived and c.batch_id in seen:
                continue
            seen.add(c.batch_id)
            base, dot, ext = c.name.rpartition(".")
            stem, sep, rest = (base if dot else c.name).partition("_")
            head = (f"{stem}_*.{ext}" if dot else f"{stem}_*") if sep else c.name
            shown = rest if sep else ""
            if not self.derived:
                shown = f"{shown}({c.rows}行)"
            groups.setdefault(head, []).append(shown)
        parts = []
        for head, items in groups.items():
            listed = "、".join(i for i in items if i)
            parts.append(f"{head}: {listed}" if listed else head)
        return ";".join(parts)


@dataclass(frozen=True)
class AreaSection:
    area: str
    number: str
    title: str
    passages: tuple[str, ...]
    rows: tuple[FigureRow, ...]
    has_previous: bool
    chart_png: bytes | None
    chart_file: str
    notes: tuple[str, ...] = ()  # footnotes of the area's incomplete figures


@dataclass(frozen=True)
class QualityRow:
    """Per source, the year's deliveries as the batch ledger records them."""

    source: str
    label: str
    files: int
    published: int
    quarantined: int
    superseded: int
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rows_duplicate: int


@dataclass(frozen=True)
class Quarantine:
    source: str
    name: str
    reason: str
    rows_read: int
    rows_rejected: int


@dataclass(frozen=True)
class ReportData:
    title: str
    year: int
    as_of: date
    window_end: date
    period: str
    region: str
    generated_at: datetime
    as_known_at: datetime | None
    areas: tuple[AreaSection, ...]
    quality: tuple[QualityRow, ...]
    quarantines: tuple[Quarantine, ...]
    file_stem: str
    values: Mapping[str, Value] = field(default_factory=dict)

    @property
    def figures(self) -> list[FigureRow]:
        return [row for area in self.areas for row in area.rows]

    @property
    def incomplete(self) -> list[FigureRow]:
        """Figures lacking a period (not delivered or quarantined), in the report's order."""
        return [row for row in self.figures if not row.coverage.complete]

    @property
    def incomplete_note(self) -> str:
        """Said under the title when a figure is incomplete; "" otherwise."""
        if not self.incomplete:
            return ""
        return f"本报告有{len(self.incomplete)}项数据不完整,已在数值旁标注[注],说明见所在部分。"

    @property
    def quality_note(self) -> str:
        """Said under appendix 2 of a report of the past: which files, and whose statuses."""
        if self.as_known_at is None:
            return ""
        moment = self.as_known_at.astimezone(BUREAU_TZ)
        return f"仅列截至 {moment:%Y-%m-%d %H:%M} 已收到的文件;文件状态为生成本报告时的状态。"


# ---------------------------------------------------------------------------- wording


def period_text(window: Window) -> str:
    """ "2024年" for the full year, "2024年1-6月" to a month end, else the exact dates."""
    end = window.end
    if end == date(window.year, 12, 31):
        return f"{window.year}年"
    if (end + timedelta(days=1)).month != end.month:  # end is a month's last day
        return f"{window.year}年1月" if end.month == 1 else f"{window.year}年1-{end.month}月"
    return f"{window.year}年1月1日至{end.month}月{end.day}日"


def value_with_unit(value: Value, unit: str) -> str:
    return NO_DATA if value is None else f"{render_value(value)}{unit}"


def _round2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def change(current: Value, previous: Value, unit: str) -> tuple[str, str]:
    """(difference with unit, growth in %) against last year; "—" where not computable."""
    if current is None or previous is None:
        return "—", "—"
    diff = current - previous
    sign = "+" if diff > 0 else ""
    diff_unit = "个百分点" if unit == "%" else unit
    diff_text = f"{sign}{render_value(diff)}{diff_unit}"
    if unit == "%" or previous == 0:
        return diff_text, "—"
    pct = _round2((Decimal(current) / Decimal(previous) - 1) * 100)
    return diff_text, f"{'+' if pct > 0 else ''}{pct}%"


def change_clause(row: FigureRow) -> str:
    """ ",比上年增长X%" style clause for the passages; empty without last year's data."""
    if not row.has_previous or row.value is None or row.previous is None:
        return ""
    diff: int | Decimal = row.value - row.previous
    if row.unit == "%":
        if diff == 0:
            return ",与上年持平"
        verb = "提高" if diff > 0 else "下降"
        return f",比上年{verb}{render_value(-diff if diff < 0 else diff)}个百分点"
    if row.previous == 0:
        return ""
    pct = _round2((Decimal(row.value) / Decimal(row.previous) - 1) * 100)
    if pct == 0:
        return ",与上年持平"
    return f",比上年{'增长' if pct > 0 else '下降'}{abs(pct)}%"


def growth_text(value: Value) -> str:
    if value is None:
        return f"同比增长{NO_DATA}"
    return f"同比增长{value}%" if value >= 0 else f"同比下降{abs(value)}%"


# ------------------------------------------------------------------------- templates


def template_environment(templates_dir: Path | None = None) -> Environment:
    """The package's templates; files in `templates_dir` (if given) override them by name."""
    loaders = [PackageLoader("report", "templates")]
    if templates_dir is not None:
        loaders.insert(0, FileSystemLoader(str(templates_dir)))  # type: ignore[arg-type]
    return Environment(
        loader=ChoiceLoader(loaders),  # type: ignore[arg-type]
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_passages(
    env: Environment,
    area: str,
    rows: Mapping[str, FigureRow],
    context: Mapping[str, object],
) -> tuple[str, ...]:
    """The area's passage template -> paragraphs (blank-line separated, lines joined)."""

    def row(code: str) -> FigureRow:
        if code not in rows:
            raise KeyError(f"template passages_{area}.j2 uses unknown metric {code!r}")
        return rows[code]

    helpers: dict[str, Callable[[str], str]] = {
        "v": lambda code: row(code).marked,
        "vu": lambda code: value_with_unit(row(code).value, row(code).unit) + row(code).mark,
        "chg": lambda code: change_clause(row(code)),
        "growth": lambda code: growth_text(row(code).value) + row(code).mark,
    }
    text = env.get_template(f"passages_{area}.j2").render(**context, **helpers)
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return tuple("".join(line.strip() for line in p.splitlines()) for p in paragraphs if p.strip())


# ---------------------------------------------------------------------------- ledger


def sources_with_data(
    engine: Engine, window: Window, as_known_at: datetime | None, sources: list[str]
) -> set[str]:
    """Sources holding at least one visible row dated inside the window (never one without a
    delivery for it: `metrics.delivered`)."""
    found: set[str] = set()
    with engine.connect() as conn:
        delivered = delivered_sources(conn, window.start, window.end)
        for code in sources:
            if code not in delivered:
                continue
            table = source_table(code)
            stmt = select(
                exists().where(
                    visible(table, as_known_at),
                    table.c.partition_date.between(window.start, window.end),
                )
            )
            if conn.execute(stmt).scalar():
                found.add(code)
    return found


def quality_rows(
    engine: Engine, year: int, as_known_at: datetime | None = None
) -> tuple[list[QualityRow], list[Quarantine]]:
    """Deliveries whose declared period overlaps the year, per source, from the batch ledger;
    with `as_known_at`, only those first seen by then (their status is today's: the ledger
    keeps no history of statuses)."""
    overlaps = and_(
        batch.c.period_start <= date(year, 12, 31), batch.c.period_end >= date(year, 1, 1)
    )
    if as_known_at is not None:
        overlaps = and_(overlaps, batch.c.first_seen_at <= as_known_at)

    def status_count(status: str):  # type: ignore[no-untyped-def]
        return func.count(case((batch.c.status == status, 1)))

    stmt = (
        select(
            batch.c.source,
            func.count().label("files"),
            status_count("published").label("published"),
            status_count("quarantined").label("quarantined"),
            status_count("superseded").label("superseded"),
            func.coalesce(func.sum(batch.c.rows_read), 0).label("rows_read"),
            func.coalesce(func.sum(batch.c.rows_accepted), 0).label("rows_accepted"),
            func.coalesce(func.sum(batch.c.rows_rejected), 0).label("rows_rejected"),
            func.coalesce(func.sum(batch.c.rows_duplicate), 0).label("rows_duplicate"),
        )
        .where(overlaps)
        .group_by(batch.c.source)
    )
    quarantine_stmt = (
        select(
            batch.c.source, batch.c.name, batch.c.reason, batch.c.rows_read, batch.c.rows_rejected
        )
        .where(overlaps, batch.c.status == "quarantined")
        .order_by(batch.c.delivery_order)
    )
    with engine.connect() as conn:
        by_source = {r.source: r for r in conn.execute(stmt)}
        quarantines = [
            Quarantine(r.source, r.name, r.reason or "", int(r.rows_read), int(r.rows_rejected))
            for r in conn.execute(quarantine_stmt)
        ]
    rows = []
    for code, source in SOURCES.items():
        r = by_source.get(code)
        rows.append(
            QualityRow(
                source=code,
                label=source.label,
                files=int(r.files) if r else 0,
                published=int(r.published) if r else 0,
                quarantined=int(r.quarantined) if r else 0,
                superseded=int(r.superseded) if r else 0,
                rows_read=int(r.rows_read) if r else 0,
                rows_accepted=int(r.rows_accepted) if r else 0,
                rows_rejected=int(r.rows_rejected) if r else 0,
                rows_duplicate=int(r.rows_duplicate) if r else 0,
            )
        )
    return rows, quarantines


# ---------------------------------------------------------------------------- assembly


def _sources_of(code: str, catalog: Catalog) -> set[str]:
    metric = catalog[code]
    if metric.source is not None:
        return {metric.source}
    return set().union(*(_sources_of(ref, catalog) for ref in metric.components))


def _note_numbers(catalog: Catalog, coverage: Mapping[str, Coverage]) -> dict[str, int]:
    """Footnote numbers 1, 2, … of the incomplete figures, in the order the report shows them;
    figures lacking the same periods for the same reasons share a number."""
    ordered = [m.code for area in AREAS for m in catalog.in_area(area)]
    notes: dict[str, int] = {}
    for code in ordered:
        if not coverage[code].complete:
            notes.setdefault(coverage[code].note(), len(notes) + 1)
    return {code: notes[coverage[code].note()] for code in ordered if not coverage[code].complete}


def build_report(
    engine: Engine,
    year: int,
    as_of: date | None = None,
    *,
    region: str | None = None,
    bureau: str | None = None,
    as_known_at: datetime | None = None,
    templates_dir: Path | None = None,
    charts: bool = True,
    catalog: Catalog | None = None,
    refresh: bool = False,
    due_day: int = DEFAULT_DUE_DAY,
) -> ReportData:
    """Gather everything the report prints: the figures of this year and last year from the
    mart (`refresh`: refresh those cut-offs first), their coverage, trends, lineage, quality."""
    catalog = catalog or load_catalog()
    scope = scope_for(year, as_of, as_known_at, region)
    window, region = scope.window, scope.region
    coverage = figure_coverage(
        engine, year, window.as_of, as_known_at, catalog, region, due_day=due_day
    )
    note_numbers = _note_numbers(catalog, coverage)
    values = mart_figures(
        engine,
        year,
        window.as_of,
        as_known_at=as_known_at,
        region=region,
        catalog=catalog,
        refresh=refresh,
    )
    previous_window = window.previous_year()
    with_previous = sources_with_data(engine, previous_window, as_known_at, list(SOURCES))
    previous = mart_figures(
        engine,
        previous_window.year,
        previous_window.as_of,
        as_known_at=as_known_at,
        region=region,
        catalog=catalog,
        refresh=refresh,
    )
    months = latest_months(engine, year, window.as_of, as_known_at, region, catalog=catalog)
    trend_codes = [m.code for m in catalog if m.trend]
    monthly = compute_monthly(
        engine, year, trend_codes, window.as_of, as_known_at, region, catalog=catalog
    )

    lineage = figure_contributions(engine, year, window.as_of, as_known_at, region, catalog)
    rows: dict[str, FigureRow] = {}
    for metric in catalog:
        value = values[metric.code]
        has_previous = _sources_of(metric.code, catalog) <= with_previous
        prev = previous[metric.code] if has_previous else None
        diff_text, pct_text = change(value, prev, metric.unit) if has_previous else ("—", "—")
        files = lineage[metric.code]
        rows[metric.code] = FigureRow(
            code=metric.code,
            label=metric.label,
            unit=metric.unit,
            value=value,
            text=render_value(value),
            previous=prev,
            previous_text=render_value(prev) if has_previous else "—",
            change_text=diff_text,
            change_pct_text=pct_text,
            has_previous=has_previous,
            files=tuple(files),
            derived=not metric.is_row_metric,
            coverage=coverage[metric.code],
            note_no=note_numbers.get(metric.code, 0),
        )

    ip_month = next((m for m in months.values() if m is not None), None)
    file_stem = f"report_{year}" + (
        "" if window.end == date(year, 12, 31) else f"_{window.end:%Y%m%d}"
    )
    context = {
        "year": year,
        "period": period_text(window),
        "region": region,
        "as_of": window.as_of,
        "ip_month": f"{ip_month.year}年{ip_month.month}月" if ip_month else None,
    }
    env = template_environment(templates_dir)
    areas = []
    for area in AREAS:
        area_rows = tuple(rows[m.code] for m in catalog.in_area(area))
        trend = [m for m in catalog.in_area(area) if m.trend]
        chart = (
            trend_chart(
                f"{AREA_LABELS[area]}主要指标月度趋势({year}年)",
                [Series(m.code, m.label, monthly[m.code]) for m in trend],
                title_latin=f"{AREA_LATIN[area]}: monthly trend {year}",
            )
            if charts and trend
            else None
        )
        areas.append(
            AreaSection(
                area=area,
                number=AREA_NUMBERS[area],
                title=AREA_LABELS[area],
                passages=render_passages(env, area, rows, context),
                rows=area_rows,
                has_previous=any(r.has_previous for r in area_rows),
                chart_png=chart,
                chart_file=f"{file_stem}_{area}.png",
                notes=tuple(dict.fromkeys(r.footnote for r in area_rows if r.footnote)),
            )
        )
    quality, quarantines = quality_rows(engine, year, as_known_at)
    return ReportData(
        title=f"{bureau or f'{region}市场监督管理局'}{year}年度统计报告",
        year=year,
        as_of=window.as_of,
        window_end=window.end,
        period=period_text(window),
        region=region,
        generated_at=datetime.now(BUREAU_TZ),
        as_known_at=as_known_at,
        areas=tuple(areas),
        quality=tuple(quality),
        quarantines=tuple(quarantines),
        file_stem=file_stem,
        values=values,
    )
