"""The metrics mart: figures computed once per (year, cut-off) for dashboards and audits.

The table lives on the warehouse metadata (created by the Alembic revision
`2026_11_25_0002_metric_mart`); values are exact decimals (`Amount`), counts included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    delete,
    insert,
    select,
)

from metrics.catalog import Catalog, load_catalog
from metrics.engine import Value, Window, compute_metrics
from warehouse.schema import Amount, metadata

# Grain: one row per (year, as_of, metric code); a refresh replaces the rows of its cut-off.
metric_mart = Table(
    "metric_mart",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("value", Amount(), nullable=True),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    comment="report figures per year and cut-off; value NULL where not computable",
)


def refresh_mart(
    engine: Engine,
    year: int,
    as_of: date | None = None,
    region: str | None = None,
    catalog: Catalog | None = None,
) -> dict[str, Value]:
    """Recompute the year's figures and replace them in the mart (one transaction)."""
    catalog = catalog or load_catalog()
    window = Window.of(year, as_of)
    values = compute_metrics(engine, year, window.as_of, region=region, catalog=catalog)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            delete(metric_mart).where(
                metric_mart.c.year == year, metric_mart.c.as_of == window.as_of
            )
        )
        conn.execute(
            insert(metric_mart),
            [
                {
                    "year": year,
                    "as_of": window.as_of,
                    "code": code,
                    "value": value,
                    "computed_at": now,
                }
                for code, value in values.items()
            ],
        )
    return values


def read_mart(
    engine: Engine, year: int, as_of: date | None = None, catalog: Catalog | None = None
) -> dict[str, Value]:
    """The stored figures of a cut-off, typed as the engine returns them (int or Decimal)."""
    catalog = catalog or load_catalog()
    window = Window.of(year, as_of)
    with engine.connect() as conn:
        rows = conn.execute(
            select(metric_mart.c.code, metric_mart.c.value).where(
                metric_mart.c.year == year, metric_mart.c.as_of == window.as_of
            )
        ).all()
    out: dict[str, Value] = {}
    for code, value in rows:
        if value is not None and code in catalog.metrics:
            if not catalog.is_decimal(code):
                value = int(value)
            else:  # stored at the column's scale: back to the metric's places (exact, as computed)
                value = Decimal(value).quantize(Decimal(1).scaleb(-catalog[code].rounding))
        out[code] = value
    return out


def mart_figures(
    engine: Engine,
    year: int,
    as_of: date | None = None,
    *,
    as_known_at: datetime | None = None,
    region: str | None = None,
    catalog: Catalog | None = None,
    refresh: bool = False,
) -> dict[str, Value]:
    """The figures of a cut-off as the report prints them: the mart's rows.

    Read from the mart; with `refresh`, or when the mart has no row of that cut-off yet, the
    cut-off is refreshed first (one computation, stored, then read back). The mart holds what
    the warehouse knows now, so a report `as_known_at` a past moment computes its cut-off once
    with the same engine call a refresh makes, without storing it over the present figures.
    """
    catalog = catalog or load_catalog()
    if as_known_at is not None:
        window = Window.of(year, as_of)
        return compute_metrics(engine, year, window.as_of, as_known_at, region, catalog=catalog)
    stored = {} if refresh else read_mart(engine, year, as_of, catalog)
    if not stored or set(catalog.codes) - set(stored):  # none yet, or from an older catalog
        refresh_mart(engine, year, as_of, region=region, catalog=catalog)
        stored = read_mart(engine, year, as_of, catalog)
    return stored
