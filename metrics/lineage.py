"""Lineage: the batches (files) behind a figure, with the rows counted from each.

`contributions` answers one figure (what `explain` shows); `figure_contributions` answers every
figure of the catalog at once for the report's lineage column. Asked figure by figure, the
report scanned each source table once per metric, a cost that grew with the rows (10.8 s of a
53 s run at --scale 10 of the workbook-heavy profile); at once, each source table is scanned
once per scope: one conditional count, sum and max per row metric of that source, grouped by
batch. Both use the same conditions as the value (tests hold them equal figure by figure).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, case, func, literal, or_, select, type_coerce
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from metrics.catalog import Catalog, Metric, load_catalog
from metrics.delivered import delivered_sources, may_count
from metrics.engine import (
    Scope,
    Value,
    _Computation,
    counted,
    filter_condition,
    latest_month_query,
    scope_for,
    shift_year,
    visible,
)
from warehouse.schema import Amount, batch, source_table


@dataclass(frozen=True)
class Contribution:
    """One batch's share of a figure: its file, delivery, and the rows counted from it."""

    metric: str
    batch_id: int
    source: str
    file: str
    name: str
    first_seen_at: datetime | None
    published_at: datetime | None
    rows: int
    amount: Value = None
    month: date | None = None


Lineage = dict[str, list[Contribution]]


def contributions(
    engine: Engine,
    code: str,
    year: int,
    as_of: date | None = None,
    as_known_at: datetime | None = None,
    region: str | None = None,
    catalog: Catalog | None = None,
) -> list[Contribution]:
    """The batches behind a figure, with rows counted per batch (same conditions as the value).

    Derived metrics (ratio, yoy) list the contributions of their components.
    """
    catalog = catalog or load_catalog()
    scope = scope_for(year, as_of, as_known_at, region)
    with engine.connect() as conn:
        return _contributions(conn, catalog, catalog[code], scope)


def figure_contributions(
    engine: Engine,
    year: int,
    as_of: date | None = None,
    as_known_at: datetime | None = None,
    region: str | None = None,
    catalog: Catalog | None = None,
) -> Lineage:
    """`{code: contributions(code)}` for every figure of the catalog, in catalog order."""
    catalog = catalog or load_catalog()
    scope = scope_for(year, as_of, as_known_at, region)
    with engine.connect() as conn:
        current = _row_metric_batches(conn, list(catalog), scope)
        return {m.code: _contributions(conn, catalog, m, scope, current) for m in catalog}


def _contributions(
    conn: Connection,
    catalog: Catalog,
    metric: Metric,
    scope: Scope,
    current: Lineage | None = None,
) -> list[Contribution]:
    """A row metric's batches (from `current` when the caller scanned them already); a derived
    one lists its components', and for yoy last year's too."""
    if not metric.is_row_metric:
        out: list[Contribution] = []
        for ref in metric.components:
            out.extend(_contributions(conn, catalog, catalog[ref], scope, current))
            if metric.aggregate.kind == "yoy":
                out.extend(_previous_year_contributions(conn, catalog, catalog[ref], scope))
        return out
    if current is not None:
        return current[metric.code]
    return _row_metric_batches(conn, [metric], scope)[metric.code]


def _previous_year_contributions(
    conn: Connection, catalog: Catalog, base: Metric, scope: Scope
) -> list[Contribution]:
    earlier = Scope(scope.window.previous_year(), scope.as_known_at, scope.region)
    if base.aggregate.kind != "latest_month":
        return _contributions(conn, catalog, base, earlier)
    run = _Computation(conn, catalog, scope)
    run.latest_month(base)
    month = run.months.get(base.code)
    if month is None:
        return []
    assert base.source is not None and base.date is not None
    table = source_table(base.source)
    condition = and_(
        filter_condition(base, scope.region),
        table.c[base.date] == shift_year(month, -1),
    )
    return _row_metric_batches(conn, [base], scope, {base.code: condition})[base.code]


def _condition(metric: Metric, scope: Scope) -> ColumnElement[bool]:
    """The rows a row metric counts: its filter in the window, or the latest month's rows."""
    if metric.aggregate.kind != "latest_month":
        return counted(metric, scope)
    assert metric.source is not None and metric.date is not None
    table = source_table(metric.source)
    return and_(
        filter_condition(metric, scope.region),
        table.c[metric.date] == latest_month_query(metric, scope),
    )


def _row_metric_batches(
    conn: Connection,
    metrics: Iterable[Metric],
    scope: Scope,
    conditions: dict[str, ColumnElement[bool]] | None = None,
) -> Lineage:
    """Per row metric, its batches: one grouped scan per source table. `conditions` replaces
    a metric's own (last year's month of a yoy base)."""
    by_source: dict[str, list[Metric]] = defaultdict(list)
    for metric in metrics:
        if metric.is_row_metric and metric.source is not None:
            by_source[metric.source].append(metric)
    out: Lineage = {m.code: [] for ms in by_source.values() for m in ms}
    window = scope.window
    delivered = delivered_sources(conn, window.start, window.end)
    for source, candidates in by_source.items():
        # A metric that cannot count a row of the window has no batch (`metrics.delivered`).
        members = [m for m in candidates if m.code in (conditions or {}) or may_count(m, delivered)]
        if not members:
            continue
        table = source_table(source)
        columns: list[Any] = []
        chosen: list[ColumnElement[bool]] = []
        for i, metric in enumerate(members):
            condition = (conditions or {}).get(metric.code)
            if condition is None:
                condition = _condition(metric, scope)
            chosen.append(condition)
            columns.append(func.sum(case((condition, 1), else_=0)).label(f"n{i}"))
            columns.append(_amount(metric, table, condition).label(f"a{i}"))
            # Only a latest-month figure names its month; for the others the max is an
            # aggregate per row for nothing (a third of the registration scan's time).
            month = (
                func.max(case((condition, table.c[metric.date]), else_=None))
                if metric.date and metric.aggregate.kind == "latest_month"
                else literal(None)
            )
            columns.append(month.label(f"m{i}"))
        # Only rows some metric counts are grouped: the others (other years, in a table that
        # holds many) are dropped by the scan before any sum is evaluated on them.
        narrow = or_(*chosen)
        for r in conn.execute(_per_batch(table, scope, columns, narrow)):
            for i, metric in enumerate(members):
                if part := _contribution(r, metric, i):
                    out[metric.code].append(part)
    return out


def _per_batch(table: Any, scope: Scope, columns: list[Any], narrow: ColumnElement[bool]) -> Any:
    """`columns` per batch of the visible rows (those `narrow` keeps), in delivery order.

    The rows are summed per `batch_id` first and the ledger joined to the few sums: right
    after a load the table has no planner statistics yet, and a join below the sums was then
    planned as a nested loop over every row (20 s instead of 1 s on 1.5 M rows).
    """
    sums = (
        select(table.c.batch_id, *columns)
        .where(visible(table, scope.as_known_at), narrow)
        .group_by(table.c.batch_id)
        .subquery("per_batch")
    )
    described = (
        batch.c.id,
        batch.c.source,
        batch.c.file,
        batch.c.name,
        batch.c.first_seen_at,
        batch.c.published_at,
    )
    summed = [sums.c[c.name] for c in columns]
    return (
        select(*described, *summed)
        .select_from(sums.join(batch, batch.c.id == sums.c.batch_id))
        .order_by(batch.c.delivery_order)
    )


def _contribution(r: Row[Any], metric: Metric, i: int) -> Contribution | None:
    """Metric `i`'s share of one batch row of `_per_batch`; None when it counted no row there."""
    row = r._mapping
    rows = int(row[f"n{i}"] or 0)
    if rows == 0:
        return None
    return Contribution(
        metric=metric.code,
        batch_id=r.id,
        source=r.source,
        file=r.file,
        name=r.name,
        first_seen_at=r.first_seen_at,
        published_at=r.published_at,
        rows=rows,
        amount=row[f"a{i}"],
        month=row[f"m{i}"] if metric.aggregate.kind == "latest_month" else None,
    )


def _amount(metric: Metric, table: Any, condition: Any) -> Any:
    if metric.aggregate.kind not in ("sum", "latest_month"):
        return literal(None)
    col = table.c[metric.aggregate.column]
    summed = func.sum(case((condition, col), else_=None))
    return type_coerce(summed, Amount()) if isinstance(col.type, Amount) else summed
