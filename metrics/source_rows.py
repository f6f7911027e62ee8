"""The rows behind a value figure: which file and which row of it a figure was read from.

A latest-date figure (`latest_month`, such as a figure typed into the offices' workbook of
the `manual` source) is not a count over many rows but the value of one row: `explain` names
that row (file, line, its cells as stored, personal data already masked), beside the batches
the engine's lineage lists. Same conditions as the engine's value (one condition builder).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from connectors.sources import SOURCES
from metrics.catalog import Catalog, load_catalog
from metrics.engine import filter_condition, latest_month_query, scope_for, visible
from warehouse.schema import batch, source_table


@dataclass(frozen=True)
class SourceRow:
    """One stored row a figure was read from: its file, its line there and its cells."""

    file: str
    name: str
    line: int
    cells: dict[str, Any]  # Chinese header -> stored value


def figure_rows(
    engine: Engine,
    code: str,
    year: int,
    as_of: date | None = None,
    as_known_at: datetime | None = None,
    region: str | None = None,
    catalog: Catalog | None = None,
) -> list[SourceRow]:
    """The row(s) a latest-date figure's value is read from; [] for counts and derived ones."""
    catalog = catalog or load_catalog()
    metric = catalog[code]
    if metric.aggregate.kind != "latest_month" or metric.source is None or metric.date is None:
        return []
    scope = scope_for(year, as_of, as_known_at, region)
    source = SOURCES[metric.source]
    table = source_table(metric.source)
    fields = [c.field for c in source.columns]
    stmt = (
        select(batch.c.file, batch.c.name, table.c.line, *(table.c[f] for f in fields))
        .select_from(table.join(batch, batch.c.id == table.c.batch_id))
        .where(
            visible(table, scope.as_known_at),
            filter_condition(metric, scope.region),
            table.c[metric.date] == latest_month_query(metric, scope),
        )
        .order_by(batch.c.delivery_order, table.c.line)
    )
    with engine.connect() as conn:
        return [
            SourceRow(
                file=r.file,
                name=r.name,
                line=int(r.line),
                cells={c.header: r._mapping[c.field] for c in source.columns},
            )
            for r in conn.execute(stmt)
        ]


def describe_row(row: SourceRow) -> str:
    """`手工填报指标_2024.xlsx row 4: 指标代码 legal.opinions, 截至日期 2024-12-31, …`"""
    cells = ", ".join(f"{h} {_shown(v)}" for h, v in row.cells.items() if v is not None)
    return f"{row.name} row {row.line}: {cells}"


def _shown(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def row_json(row: SourceRow) -> dict[str, Any]:
    """A row for `explain --json`: cells as text (dates ISO, decimals exact)."""
    return {
        "file": row.file,
        "name": row.name,
        "line": row.line,
        "cells": {h: None if v is None else _shown(v) for h, v in row.cells.items()},
    }
