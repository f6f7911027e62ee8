"""Warehouse tables. Grain of each table is stated in its comment.

The per-source tables are generated from `connectors.sources`, so a new source is a new table
without a new module. Superseded rows are kept (marked, not deleted) so that any past state
of the warehouse can be recomputed (`--as-known-at`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from connectors.canonical import AMOUNT_SCALE as CANONICAL_AMOUNT_SCALE
from connectors.sources import SOURCES, Source

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

AMOUNT_SCALE = CANONICAL_AMOUNT_SCALE  # decimal places kept for amounts (NUMERIC(20, 4))


class Amount(TypeDecorator[Decimal]):
    """Exact decimal amounts on every backend.

    PostgreSQL stores NUMERIC; SQLite has no exact decimal, so the value is stored as an
    integer count of 1/10^AMOUNT_SCALE units. `SUM()` over either stays exact when the result
    is typed with `type_coerce(func.sum(col), Amount())`.
    """

    impl = Numeric(20, AMOUNT_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, AMOUNT_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            return int(value.scaleb(AMOUNT_SCALE).to_integral_value())
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-AMOUNT_SCALE)
        return Decimal(value)


# The final statuses of a delivery (what `status` reports). Besides them, `pending`: registered
# (delivery order given) but not yet published or quarantined, e.g. a run killed mid-file; the
# next run resumes it with its original delivery order. `skipped` is never stored: it is what
# a re-delivery of known content is reported as.
LEDGER_STATUSES = ("published", "superseded", "quarantined")

# Grain: one row per delivered file content (source, sha256); a re-delivery of the same
# content adds nothing. `delivery_order` is the order the pipeline first saw the files.
batch = Table(
    "batch",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False, index=True),
    Column("file", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("delivery_order", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_accepted", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("rows_duplicate", Integer, nullable=False, default=0),
    Column("reason", String(32)),
    Column("detail", Text),
    Column("validation_result", Text),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("published_at", DateTime(timezone=True)),
    Column("superseded_at", DateTime(timezone=True)),
    Column("flow_run_id", String(64)),
    UniqueConstraint("source", "sha256"),
    UniqueConstraint("delivery_order"),
)

# Grain: one row per rejected data row of a delivered file. `raw` is a JSON object of the
# row's cells (header -> text) with personal data already masked and hashed.
reject = Table(
    "reject",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", ForeignKey("batch.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("line", Integer, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("column", Text),
    Column("raw", Text, nullable=False),
)

# Grain: one row per warning rule of a delivered file (future dates, a year-to-date figure
# that fell, a single sheet read...): the rule, the column, how many rows (NULL: the file).
# A warning rejects nothing; re-processing the file replaces its rows.
delivery_warning = Table(
    "delivery_warning",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", ForeignKey("batch.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("rule", String(32), nullable=False),
    Column("column", Text),
    Column("rows", Integer),
)

# Grain: one row per (source, held lock); a database-level guard that two runs never
# publish the same source at once.
source_lock = Table(
    "source_lock",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    # Renewed by the holder's heartbeat; the lease is free for anyone once `expires_at` passed.
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    # The holder's kernel boot and pid namespace: where its pid can be checked for liveness.
    Column("process", String(128)),
)


def _sql_type(kind: str) -> TypeEngine[Any]:
    if kind in ("text", "enum"):
        return Text()
    if kind == "bool":
        return Boolean()
    if kind in ("date", "epoch_ms_date", "month"):
        return Date()
    if kind == "int":
        return BigInteger()
    if kind == "decimal":
        return Amount()
    raise ValueError(f"no SQL type for column type {kind!r}")


def _source_table(source: Source) -> Table:
    """Grain: one row per accepted data row of a published file (current or superseded).

    `batch_id` refers to `batch.id` but carries no FOREIGN KEY: the per-row check made a
    1M-row publish ~3x slower on PostgreSQL, and only `warehouse.publish` writes these tables
    (always with the id of a ledger row it holds). Both indexes are BRIN on PostgreSQL: rows
    arrive file by file, so block ranges follow batches and their periods, and a BRIN index
    costs almost nothing to maintain while publishing (a B-tree on SQLite).
    """
    table = Table(
        source.code,
        metadata,
        Column("batch_id", Integer, nullable=False),
        Column("line", Integer, nullable=False),
        Column("partition_date", Date, nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=False),
        # NULL while current; set when a newer delivery covering this date is published.
        Column("superseded_at", DateTime(timezone=True)),
        *(Column(c.field, _sql_type(c.type)) for c in source.columns),
        comment=f"{source.label}: one row per accepted row of a published {source.code} file",
    )
    for name, column in (("partition_date", table.c.partition_date), ("batch", table.c.batch_id)):
        Index(
            f"ix_{source.code}_{name}",
            column,
            postgresql_using="brin",
            postgresql_with={"autosummarize": "on"},
        )
    return table


SOURCE_TABLES: dict[str, Table] = {code: _source_table(src) for code, src in SOURCES.items()}


def source_table(code: str) -> Table:
    return SOURCE_TABLES[code]
