"""Every figure's contributing batches at once, for the report's lineage column.

`engine.contributions` answers one figure (what `explain` shows) with one grouped scan of its
source table; the report asks it of every figure, which scanned each source table once per
metric and grew with the rows (10.8 s of a 53 s run at --scale 10 of the workbook-heavy
profile). Here each source table is scanned once per scope: one conditional count, sum and max
per row metric of that source, grouped by batch. The result equals `contributions` figure by
figure (tests/metrics/test_metric_lineage.py holds them equal).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, case, func, literal, select, type_coerce
from sqlalchemy.engine import Connection

from metrics.catalog import Catalog, Metric, load_catalog
from metrics.engine import (
    Contribution,
    Scope,
    _previous_year_contributions,
    counted,
    filter_condition,
    latest_month_query,
    scope_for,
    visible,
)
from warehouse.schema import Amount, batch, source_table

Lineage = dict[str, list[Contribution]]


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
        out: Lineage = {}
        for metric in catalog:
            out[metric.code] = _compose(conn, catalog, metric, scope, current)
    return out


def _compose(
    conn: Connection, catalog: Catalog, metric: Metric, scope: Scope, current: Lineage
) -> list[Contribution]:
    """A derived figure lists its components' batches, and for yoy last year's (as
    `engine._contributions` does)."""
    if metric.is_row_metric:
        return current[metric.code]
    parts: list[Contribution] = []
    for ref in metric.components:
        parts.extend(_compose(conn, catalog, catalog[ref], scope, current))
        if metric.aggregate.kind == "yoy":
            parts.extend(_previous_year_contributions(conn, catalog, catalog[ref], scope))
    return parts


def _row_metric_batches(conn: Connection, metrics: list[Metric], scope: Scope) -> Lineage:
    """Per row metric, its batches: one grouped scan per source table."""
    by_source: dict[str, list[Metric]] = defaultdict(list)
    for metric in metrics:
        if metric.is_row_metric and metric.source is not None:
            by_source[metric.source].append(metric)
    out: Lineage = {m.code: [] for ms in by_source.values() for m in ms}
    for source, members in by_source.items():
        table = source_table(source)
        columns: list[Any] = []
        for i, metric in enumerate(members):
            condition = _condition(metric, table, scope)
            columns.append(func.sum(case((condition, 1), else_=0)).label(f"n{i}"))
            columns.append(_amount(metric, table, condition).label(f"a{i}"))
            month = (
                func.max(case((condition, table.c[metric.date]), else_=None))
                if metric.date
                else literal(None)
            )
            columns.append(month.label(f"m{i}"))
        stmt = (
            select(
                batch.c.id,
                batch.c.source,
                batch.c.file,
                batch.c.name,
                batch.c.first_seen_at,
                batch.c.published_at,
                *columns,
            )
            .select_from(table.join(batch, batch.c.id == table.c.batch_id))
            .where(visible(table, scope.as_known_at))
            .group_by(
                batch.c.id,
                batch.c.source,
                batch.c.file,
                batch.c.name,
                batch.c.first_seen_at,
                batch.c.published_at,
                batch.c.delivery_order,
            )
            .order_by(batch.c.delivery_order)
        )
        for r in conn.execute(stmt):
            row = r._mapping
            for i, metric in enumerate(members):
                rows = int(row[f"n{i}"] or 0)
                if rows == 0:
                    continue
                out[metric.code].append(
                    Contribution(
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
                )
    return out


def _condition(metric: Metric, table: Any, scope: Scope) -> Any:
    """The rows a metric counts (the same condition as `engine._contributions`)."""
    if metric.aggregate.kind == "latest_month":
        assert metric.date is not None
        return and_(
            filter_condition(metric, scope.region),
            table.c[metric.date] == latest_month_query(metric, scope),
        )
    return counted(metric, scope)


def _amount(metric: Metric, table: Any, condition: Any) -> Any:
    if metric.aggregate.kind not in ("sum", "latest_month"):
        return literal(None)
    col = table.c[metric.aggregate.column]
    summed = func.sum(case((condition, col), else_=None))
    return type_coerce(summed, Amount()) if isinstance(col.type, Amount) else summed
