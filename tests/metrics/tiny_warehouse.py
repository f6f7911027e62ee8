"""A hand-made warehouse for metric tests: tables from `metadata.create_all`, rows inserted
directly with SQLAlchemy Core (no pipeline), so each test states exactly what it holds."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, text

import metrics.mart  # noqa: F401  (registers the mart table on the metadata)
from connectors.sources import SOURCES
from warehouse.schema import batch, metadata, source_table

PUBLISHED = datetime(2025, 1, 10, 2, 0, tzinfo=UTC)


def pg_schema_url(pg_url: str, schema: str) -> str:
    """`pg_url` with its own schema first on the search path (created when missing)."""
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    return f"{pg_url}?options=-csearch_path%3D{schema}"


def open_tiny(url: str) -> Engine:
    """An empty warehouse at `url` (tables created, every row removed)."""
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
    return engine


def add_batch(
    engine: Engine,
    source: str,
    name: str | None = None,
    *,
    published_at: datetime = PUBLISHED,
    status: str = "published",
    rows_read: int = 0,
    rows_accepted: int = 0,
    rows_rejected: int = 0,
    rows_duplicate: int = 0,
    period: tuple[date, date] = (date(2024, 1, 1), date(2024, 12, 31)),
    reason: str | None = None,
) -> int:
    """One ledger row; returns its id."""
    with engine.begin() as conn:
        order = int(
            conn.execute(select(func.coalesce(func.max(batch.c.delivery_order), 0))).scalar_one()
        )
        name = name or f"{SOURCES[source].file_stem}_{order + 1}.{SOURCES[source].extension}"
        return int(
            conn.execute(
                insert(batch).returning(batch.c.id),
                {
                    "source": source,
                    "file": f"{source}/{name}",
                    "name": name,
                    "sha256": f"{order + 1:064d}",
                    "period_start": period[0],
                    "period_end": period[1],
                    "version": 1,
                    "delivery_order": order + 1,
                    "status": status,
                    "rows_read": rows_read,
                    "rows_accepted": rows_accepted,
                    "rows_rejected": rows_rejected,
                    "rows_duplicate": rows_duplicate,
                    "reason": reason,
                    "first_seen_at": published_at,
                    "published_at": published_at if status != "quarantined" else None,
                },
            ).scalar_one()
        )


def add_rows(
    engine: Engine,
    source: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    batch_id: int | None = None,
    published_at: datetime = PUBLISHED,
    superseded_at: datetime | None = None,
) -> int:
    """Insert accepted rows of `source` (partition date taken from the row); returns batch id."""
    src = SOURCES[source]
    partitions = []
    for row in rows:
        partition = row.get(src.partition_field)
        if partition is None and src.partition_fallback:
            partition = row.get(src.partition_fallback)
        partitions.append(partition or date(2024, 1, 1))
    if batch_id is None:
        # The file's declared period holds its rows' partition dates, as the contract demands.
        period = (min([date(2024, 1, 1), *partitions]), max([date(2024, 12, 31), *partitions]))
        batch_id = add_batch(
            engine,
            source,
            published_at=published_at,
            rows_read=len(rows),
            rows_accepted=len(rows),
            period=period,
        )
    table = source_table(source)
    records = []
    for line, (row, partition) in enumerate(zip(rows, partitions, strict=True), start=2):
        records.append(
            {
                "batch_id": batch_id,
                "line": line,
                "partition_date": partition,
                "published_at": published_at,
                "superseded_at": superseded_at,
                **dict.fromkeys((c.field for c in src.columns), None),
                **row,
            }
        )
    if records:
        with engine.begin() as conn:
            conn.execute(insert(table), records)
    return batch_id


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL the engine sends inside the block, lower-cased with blanks collapsed."""
    seen: list[str] = []

    def record(conn, cursor, statement, params, context, many) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.lower().split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
