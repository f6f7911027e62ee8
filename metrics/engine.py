"""The one metric engine: catalog declarations -> set-based SQL (SQLAlchemy Core).

Every figure, its monthly trend and its lineage come from the same condition builders here, so
the number in the report, the chart and `explain` cannot drift apart. The SQL is plain Core
(CASE inside aggregates, no dialect-specific functions) and runs unchanged on SQLite and
PostgreSQL. Arithmetic after the database is Decimal only; rounding is half-up at the end.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    and_,
    case,
    distinct,
    extract,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.engine import Connection

from connectors.bureau_time import BUREAU_TZ
from metrics.catalog import DEFAULT_REGION, REGION, Catalog, Metric, load_catalog
from metrics.delivered import delivered_sources, may_count
from warehouse.schema import Amount, source_table

Value = int | Decimal | None


# ----------------------------------------------------------------------------- the window


@dataclass(frozen=True)
class Window:
    """Events with date in [start, end]; `end` = min(as_of, Y-12-31)."""

    year: int
    as_of: date
    start: date
    end: date

    @staticmethod
    def of(year: int, as_of: date | None = None) -> Window:
        year_end = date(year, 12, 31)
        as_of = as_of or year_end
        return Window(year, as_of, date(year, 1, 1), min(as_of, year_end))

    def previous_year(self) -> Window:
        """The same cut-off one year earlier (29 Feb becomes 28 Feb)."""
        return Window.of(self.year - 1, shift_year(self.as_of, -1))


def shift_year(day: date, years: int) -> date:
    target = day.year + years
    last = calendar.monthrange(target, day.month)[1]
    return date(target, day.month, min(day.day, last))


def to_utc(moment: datetime) -> datetime:
    """Timestamps are compared in UTC; a naive one is bureau time (Asia/Shanghai)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BUREAU_TZ)
    return moment.astimezone(UTC)


def parse_timestamp(text: str) -> datetime:
    """An ISO date or timestamp from the command line (`2024-07-01`, `2024-07-01T08:00+08:00`)."""
    return to_utc(datetime.fromisoformat(text.strip().replace(" ", "T", 1)))


# --------------------------------------------------------------------- condition builders


@dataclass(frozen=True)
class Scope:
    """Everything a computation depends on besides the metric itself."""

    window: Window
    as_known_at: datetime | None = None
    region: str = DEFAULT_REGION


def visible(table: Any, as_known_at: datetime | None) -> ColumnElement[bool]:
    """Rows current now, or rows the warehouse held at `as_known_at`."""
    if as_known_at is None:
        return table.c.superseded_at.is_(None)
    moment = to_utc(as_known_at)
    return and_(
        table.c.published_at <= moment,
        or_(table.c.superseded_at.is_(None), table.c.superseded_at > moment),
    )


def filter_condition(metric: Metric, region: str) -> ColumnElement[bool]:
    """The metric's declared filter (no window, no visibility)."""
    assert metric.source is not None
    table = source_table(metric.source)
    parts: list[ColumnElement[bool]] = []
    for cond in metric.filter:
        col = table.c[cond.field]
        values = [region if v == REGION else v for v in cond.values]
        if cond.op == "eq":
            parts.append(col == values[0])
        elif cond.op == "ne":
            parts.append(col.is_distinct_from(values[0]))
        else:
            parts.append(col.in_(values))
    return and_(true(), *parts)


def in_window(metric: Metric, start: date, end: date) -> ColumnElement[bool]:
    assert metric.source is not None and metric.date is not None
    col = source_table(metric.source).c[metric.date]
    return col.between(start, end)


def counted(metric: Metric, scope: Scope) -> ColumnElement[bool]:
    """Rows a window metric counts: filter and date in the window (visibility separate)."""
    return and_(
        filter_condition(metric, scope.region),
        in_window(metric, scope.window.start, scope.window.end),
    )


def aggregate_expression(metric: Metric, condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """count / count_distinct / sum over the rows where `condition` holds."""
    assert metric.source is not None
    table = source_table(metric.source)
    kind = metric.aggregate.kind
    if kind == "count":
        return func.count(case((condition, literal(1))))
    col = table.c[metric.aggregate.column]
    if kind == "count_distinct":
        return func.count(distinct(case((condition, col))))
    if kind == "sum":
        summed = func.sum(case((condition, col)))
        return type_coerce(summed, Amount()) if isinstance(col.type, Amount) else summed
    raise ValueError(f"{metric.code}: {kind} is not a row aggregate")


def latest_month_query(metric: Metric, scope: Scope) -> Any:
    """The newest month of the year (first day <= window end) with a visible row."""
    assert metric.source is not None and metric.date is not None
    table = source_table(metric.source)
    month = table.c[metric.date]
    return (
        select(func.max(month))
        .where(
            visible(table, scope.as_known_at),
            filter_condition(metric, scope.region),
            month.between(scope.window.start, scope.window.end),
        )
        .scalar_subquery()
    )


# ---------------------------------------------------------------------------- the values


def _scaled(metric: Metric, value: Any) -> Value:
    """The exact value with the metric's scale applied (Decimal), or the plain int."""
    if value is None:
        return None
    if metric.scale is None:
        return value if isinstance(value, Decimal) else int(value)
    return Decimal(value) * metric.scale


def _finish(value: Value, metric: Metric, catalog: Catalog) -> Value:
    """Round half-up to the metric's places (decimal metrics) or keep the exact int (counts)."""
    if value is None:
        return None
    if not catalog.is_decimal(metric.code):
        return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    rounded = Decimal(value).quantize(Decimal(1).scaleb(-metric.rounding), rounding=ROUND_HALF_UP)
    return rounded if rounded else abs(rounded)  # -0.004 rounds to 0.00, not -0.00


@dataclass
class _Computation:
    """Raw (scaled, unrounded) values of one scope, computed set by set."""

    conn: Connection
    catalog: Catalog
    scope: Scope
    raw: dict[str, Value] = field(default_factory=dict)
    months: dict[str, date | None] = field(default_factory=dict)
    _delivered: frozenset[str] | None = None

    def delivered(self) -> frozenset[str]:
        """The sources delivered for the window (`metrics.delivered`), asked once."""
        if self._delivered is None:
            window = self.scope.window
            self._delivered = delivered_sources(self.conn, window.start, window.end)
        return self._delivered

    def row_metrics(self, metrics: Iterable[Metric]) -> None:
        window_metrics: dict[str, list[Metric]] = {}
        for m in metrics:
            if m.code in self.raw:
                continue
            if m.aggregate.kind == "latest_month":
                self.latest_month(m)
            elif not may_count(m, self.delivered()):
                self.raw[m.code] = _scaled(m, 0)  # what the scan would give: nothing counted
            else:
                window_metrics.setdefault(m.source or "", []).append(m)
        for source, group in window_metrics.items():
            table = source_table(source)
            columns = [
                aggregate_expression(m, counted(m, self.scope)).label(f"m{i}")
                for i, m in enumerate(group)
            ]
            row = self.conn.execute(
                select(*columns).where(visible(table, self.scope.as_known_at))
            ).one()
            for m, value in zip(group, row, strict=True):
                self.raw[m.code] = _scaled(m, value if value is not None else 0)

    def latest_month(self, metric: Metric, month: date | None = None) -> Value:
        """Value of the metric's field at `month` (default: the latest month of the window)."""
        assert metric.source is not None and metric.date is not None
        table = source_table(metric.source)
        col = table.c[metric.aggregate.column]
        month_col = table.c[metric.date]
        target = month if month is not None else latest_month_query(metric, self.scope)
        row = self.conn.execute(
            select(month_col, col)
            .where(
                visible(table, self.scope.as_known_at),
                filter_condition(metric, self.scope.region),
                month_col == target,
            )
            .limit(1)
        ).first()
        value = _scaled(metric, row[1]) if row is not None else None
        if month is None:
            self.months[metric.code] = row[0] if row is not None else None
            self.raw[metric.code] = value
        return value

    def derived(self, metric: Metric) -> Value:
        """ratio and yoy, from raw values (never from rounded ones)."""
        if metric.code in self.raw:
            return self.raw[metric.code]
        if metric.aggregate.kind == "ratio":
            num_code, den_code = metric.aggregate.args
            num, den = self.value(num_code), self.value(den_code)
            result: Value = None if num is None or not den else _divide(num, den, metric)
        else:
            result = self.year_on_year(self.catalog[metric.aggregate.args[0]], metric)
        self.raw[metric.code] = result
        return result

    def value(self, code: str) -> Value:
        metric = self.catalog[code]
        if metric.is_row_metric:
            if code not in self.raw:
                self.row_metrics([metric])
            return self.raw[code]
        return self.derived(metric)

    def year_on_year(self, base: Metric, metric: Metric) -> Value:
        """100 × (this ÷ same point of last year − 1); null when either side is missing."""
        current = self.value(base.code)
        if current is None:
            return None
        if base.aggregate.kind == "latest_month":
            month = self.months.get(base.code)
            previous = self.latest_month(base, shift_year(month, -1)) if month else None
        else:
            earlier = _Computation(
                self.conn,
                self.catalog,
                Scope(self.scope.window.previous_year(), self.scope.as_known_at, self.scope.region),
            )
            previous = earlier.value(base.code)
        if not previous:
            return None
        ratio = _divide(current, previous, None)
        assert ratio is not None
        growth = ratio - 1
        return growth * metric.scale if metric.scale is not None else growth


def _divide(num: int | Decimal, den: int | Decimal, metric: Metric | None) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        result = Decimal(num) / Decimal(den)
        if metric is not None and metric.scale is not None:
            result *= metric.scale
        return result


def scope_for(
    year: int,
    as_of: date | None = None,
    as_known_at: datetime | None = None,
    region: str | None = None,
) -> Scope:
    return Scope(Window.of(year, as_of), as_known_at, region or DEFAULT_REGION)


def compute_metrics(
    engine: Engine,
    year: int,
    as_of: date | None = None,
    as_known_at: datetime | None = None,
    region: str | None = None,
    codes: Sequence[str] | None = None,
    catalog: Catalog | None = None,
) -> dict[str, Value]:
    """Every catalog metric (or `codes`) for the year's window, rounded; in catalog order.

    Counts and sums of an empty window are 0; ratios and year-on-year figures without a
    denominator, and latest-month figures without a month, are None.
    """
    catalog = catalog or load_catalog()
    wanted = list(codes) if codes is not None else catalog.codes
    scope = scope_for(year, as_of, as_known_at, region)
    with engine.connect() as conn:
        run = _Computation(conn, catalog, scope)
        run.row_metrics(catalog[c] for c in wanted if catalog[c].is_row_metric)
        return {c: _finish(run.value(c), catalog[c], catalog) for c in wanted}


def latest_months(
    engine: Engine,
    year: int,
    as_of: date | None = None,
    as_known_at: datetime | None = None,
    region: str | None = None,
    catalog: Catalog | None = None,
) -> dict[str, date | None]:
    """The month each latest-month metric reports (for the report's "截至X月" wording)."""
    catalog = catalog or load_catalog()
    scope = scope_for(year, as_of, as_known_at, region)
    with engine.connect() as conn:
        run = _Computation(conn, catalog, scope)
        for m in catalog:
            if m.aggregate.kind == "latest_month":
                run.latest_month(m)
        return dict(run.months)


# --------------------------------------------------------------------------- monthly trend


def compute_monthly(
    engine: Engine,
    year: int,
    codes: Sequence[str],
    as_of: date | None = None,
    as_known_at: datetime | None = None,
    region: str | None = None,
    catalog: Catalog | None = None,
) -> dict[str, list[Value]]:
    """Twelve monthly values per row metric (None for months after the window end).

    Window metrics are grouped by the month of their date field (one query per source and
    date field); latest-month metrics give their value at each month.
    """
    catalog = catalog or load_catalog()
    scope = scope_for(year, as_of, as_known_at, region)
    last_month = scope.window.end.month if scope.window.end.year == year else 0
    out: dict[str, list[Value]] = {
        c: [
            _finish(_scaled(catalog[c], 0), catalog[c], catalog) if i < last_month else None
            for i in range(12)
        ]
        for c in codes
    }
    groups: dict[tuple[str, str], list[Metric]] = {}
    monthly_values: list[Metric] = []
    for code in codes:
        m = catalog[code]
        if not m.is_row_metric:
            raise ValueError(f"{code}: monthly values exist only for row metrics")
        if m.aggregate.kind == "latest_month":
            monthly_values.append(m)
        else:
            groups.setdefault((m.source or "", m.date or ""), []).append(m)
    with engine.connect() as conn:
        delivered = delivered_sources(conn, scope.window.start, scope.window.end)
        for m in monthly_values:
            table = source_table(m.source or "")
            month_col = table.c[m.date or ""]
            rows = conn.execute(
                select(extract("month", month_col), table.c[m.aggregate.column]).where(
                    visible(table, scope.as_known_at),
                    filter_condition(m, scope.region),
                    month_col.between(scope.window.start, scope.window.end),
                )
            ).all()
            series: list[Value] = [None] * 12
            for month, value in rows:
                series[int(month) - 1] = _finish(_scaled(m, value), m, catalog)
            out[m.code] = series
        for (source, date_field), group in groups.items():
            if not may_count(group[0], delivered):  # the group's months stay 0
                continue
            table = source_table(source)
            month_of = extract("month", table.c[date_field])
            columns = [
                aggregate_expression(m, filter_condition(m, scope.region)).label(f"m{i}")
                for i, m in enumerate(group)
            ]
            stmt = (
                select(month_of.label("month"), *columns)
                .where(
                    visible(table, scope.as_known_at),
                    table.c[date_field].between(scope.window.start, scope.window.end),
                )
                .group_by(month_of)
            )
            for row in conn.execute(stmt):
                for i, m in enumerate(group):
                    value = row[i + 1] if row[i + 1] is not None else 0
                    out[m.code][int(row[0]) - 1] = _finish(_scaled(m, value), m, catalog)
    return out


# --------------------------------------------------------------------------- definitions


def describe(metric: Metric, catalog: Catalog | None = None, region: str | None = None) -> str:
    """The definition in words, generated from the declaration (never written twice)."""
    catalog = catalog or load_catalog()
    scale = f" {metric.scale_text}" if metric.scale_text else ""
    kind = metric.aggregate.kind
    if kind == "ratio":
        num, den = metric.aggregate.args
        return f"{num} / {den}{scale}"
    if kind == "yoy":
        (base,) = metric.aggregate.args
        return (
            f"({base} at month M of Y ÷ {base} at month M of Y−1 − 1){scale}; "
            "null when last year's value is missing"
        )
    conditions = [
        c.describe().replace(REGION, f"{region or DEFAULT_REGION} (configured region)")
        for c in metric.filter
    ]
    if kind == "latest_month":
        where = ", ".join(conditions)
        return (
            f"{metric.source}: {metric.aggregate.field} of the newest month M ({metric.date}) "
            f"of the year with first day ≤ window end{', ' + where if where else ''}{scale}"
        )
    what = {
        "count": f"count of {metric.source} rows",
        "count_distinct": f"count of distinct {metric.aggregate.field} in {metric.source} rows",
        "sum": f"sum of {metric.aggregate.field} over {metric.source} rows",
    }[kind]
    return ", ".join([what, *conditions, f"{metric.date} in window"]) + scale


def render_value(value: Value) -> str:
    """A figure as printed: integers plain, decimals with their two places, null as 无数据."""
    if value is None:
        return "无数据"
    return str(value)


def json_value(value: Value) -> int | float | None:
    """JSON number of a rounded figure (the float is only the carrier of the 2-place text)."""
    if value is None or isinstance(value, int):
        return value
    return float(str(value))
