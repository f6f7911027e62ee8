"""The batch ledger: one row per delivered content, registered before anything is read.

`register_deliveries` (ledger first) gives every file seen in a run its delivery order, in the
order of rule 2; known content is `skipped` (finished) or `resumed` (a run died before
publishing it; it keeps its order). `reopen_delivery` sets a finished row back to `pending`
for a forced backfill. Reading the ledger for operators is `warehouse.status`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol, TypeVar

from sqlalchemy import Engine, func, insert, select, text, update

from connectors.batch import ExtractedBatch, LandingFile
from warehouse.engine import writer
from warehouse.schema import batch

LEDGER_LOCK_KEY = 0x62757265_61750002  # pg_advisory_xact_lock key for delivery-order assignment

Action = Literal["new", "resumed", "skipped"]


@dataclass(frozen=True)
class Delivery:
    """A landing file and the sha256 of its content: what the ledger registers."""

    file: LandingFile
    sha256: str
    size: int = 0  # bytes hashed (0 where not known)

    @property
    def source(self) -> str:
        return self.file.source


@dataclass(frozen=True)
class BatchRecord:
    """A ledger row, and what registering a delivery did with it.

    `action`: `new` (first seen now), `resumed` (registered by an earlier run that did not
    finish it; its delivery order is kept) or `skipped` (this content was already loaded).
    """

    id: int
    source: str
    file: str
    sha256: str
    period_start: date
    period_end: date
    version: int
    delivery_order: int
    status: str
    first_seen_at: datetime
    action: Action


class _HasFile(Protocol):
    @property
    def file(self) -> LandingFile: ...


def delivery_sort_key(item: LandingFile | _HasFile) -> tuple[date, date, int, str, str]:
    """Rule 2 (`LandingFile.delivery_key`) for a file or anything carrying one."""
    return (item if isinstance(item, LandingFile) else item.file).delivery_key


T = TypeVar("T", LandingFile, Delivery, ExtractedBatch)


def order_deliveries(files: Iterable[T]) -> list[T]:
    """Files first seen in the same run, in the delivery order they will be given."""
    return sorted(files, key=delivery_sort_key)


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; the warehouse stores UTC everywhere."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_record(engine: Engine, batch_id: int, action: Action) -> BatchRecord:
    """The ledger row of a registered delivery, for a caller that only kept its id."""
    with engine.connect() as conn:
        row = conn.execute(select(batch).where(batch.c.id == batch_id)).one()
    return _record(row, action)


def _record(row: Any, action: Action) -> BatchRecord:
    return BatchRecord(
        id=row.id,
        source=row.source,
        file=row.file,
        sha256=row.sha256,
        period_start=row.period_start,
        period_end=row.period_end,
        version=row.version,
        delivery_order=row.delivery_order,
        status=row.status,
        first_seen_at=as_utc(row.first_seen_at),
        action=action,
    )


def register_deliveries(
    engine: Engine,
    items: Sequence[Delivery | ExtractedBatch],
    *,
    now: datetime | None = None,
    flow_run_id: str | None = None,
) -> list[BatchRecord]:
    """Give each delivery its ledger row, in the order given (use `order_deliveries` first).

    Content already in the ledger (same source and sha256) is `skipped` when it was finished
    and `resumed` when a previous run registered it but died before publishing; either way
    it keeps its original delivery order. One transaction under the ledger lock, so two
    runs registering at once never hand out the same delivery order.
    """
    now = now or utc_now()
    records: list[BatchRecord] = []
    if not items:
        return records
    with writer(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LEDGER_LOCK_KEY})
        shas = sorted({i.sha256 for i in items})
        known = {
            (r.source, r.sha256): r
            for r in conn.execute(select(batch).where(batch.c.sha256.in_(shas))).all()
        }
        next_order = (conn.execute(select(func.max(batch.c.delivery_order))).scalar() or 0) + 1
        seen_now: set[tuple[str, str]] = set()
        for item in items:
            f = item.file
            key = (f.source, item.sha256)
            row = known.get(key)
            if row is not None:
                action: Action = (
                    "resumed" if row.status == "pending" and key not in seen_now else "skipped"
                )
                records.append(_record(row, action))
                seen_now.add(key)
                continue
            values = {
                "source": f.source,
                "file": f.relative,
                "name": f.relative.rsplit("/", 1)[-1],
                "sha256": item.sha256,
                "period_start": f.period_start,
                "period_end": f.period_end,
                "version": f.version,
                "delivery_order": next_order,
                "status": "pending",
                "first_seen_at": now,
                "flow_run_id": flow_run_id,
            }
            new_id = conn.execute(insert(batch).values(**values).returning(batch.c.id)).scalar_one()
            row = conn.execute(select(batch).where(batch.c.id == new_id)).one()
            known[key] = row
            seen_now.add(key)
            records.append(_record(row, "new"))
            next_order += 1
    return records


def register_delivery(engine: Engine, item: Delivery | ExtractedBatch) -> BatchRecord:
    """Register one delivery (see `register_deliveries`); `action` says what happened."""
    return register_deliveries(engine, [item])[0]


def reopen_delivery(engine: Engine, batch_id: int) -> bool:
    """Set a finished delivery's ledger row back to `pending` so it can be processed again.

    Its delivery order, accounting and published rows stay as they are until the file is
    processed again (a forced backfill's `republish` / `revalidate`), so an older file still
    never overrides a newer one. False when there is no ledger row `batch_id`.
    """
    with writer(engine) as conn:
        done = conn.execute(update(batch).where(batch.c.id == batch_id).values(status="pending"))
    return bool(done.rowcount)
