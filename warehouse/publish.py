"""Write-audit-publish of one delivered file: the publish transaction.

`publish_batch` does, in ONE transaction under the source's database lock: supersede older
rows for the dates this file covers (`warehouse.supersession`), load the accepted rows straight
into the source table with their lineage (`warehouse.load`), update the ledger, store the
rejects. Nothing is visible before the commit. A batch that must be quarantined (the verdict
is `connectors.verdict`'s) goes to `quarantine_batch` instead: ledger + rejects, none of its
rows.

A crash at any point leaves the source tables and reject store as before the file (the ledger
row stays `pending` and is resumed, with its delivery order, by the next run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select, update

from connectors.batch import ExtractedBatch
from connectors.sources import SOURCES
from connectors.verdict import DEFAULT_REJECT_THRESHOLD, batch_verdict
from warehouse.leases import default_holder, publish_transaction
from warehouse.ledger import BatchRecord, utc_now
from warehouse.load import bulk_load, stage_chunks, store_rejects, with_lineage
from warehouse.schema import LEDGER_STATUSES, batch, source_table
from warehouse.supersession import newer_periods, refresh_statuses, supersede_older, withdraw

if TYPE_CHECKING:
    from expectations.audit import AuditOutcome

log = logging.getLogger(__name__)

# The named points of `publish_batch`, in order, all inside its transaction except the last:
# `after_lock` (locks held, nothing written), `after_stage` (older rows superseded and this
# file's rows copied into the source table), `after_insert` (ledger row marked published,
# statuses refreshed), `before_commit` (rejects stored), `after_commit`.
CRASH_POINTS = ("after_lock", "after_stage", "after_insert", "before_commit", "after_commit")

# Fault tests install a probe here (tests/faults/crash_entry.py): it is called with each point
# as the publisher reaches it, and may kill the process there. Nothing in production sets it.
probe: Callable[[str], None] | None = None


def _reached(point: str) -> None:
    if probe is not None:
        probe(point)


@dataclass
class PublishResult:
    """What became of one file: its final ledger status and accounting."""

    batch_id: int
    file: str
    source: str
    sha256: str
    delivery_order: int
    status: str  # published | superseded | quarantined | skipped
    reason: str | None = None
    detail: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_superseded: int = 0  # rows of older files this publish superseded
    seconds: float = 0.0


def run_audit(
    batch_: ExtractedBatch,
    *,
    data_docs_dir: Path | str,
    threshold: Decimal = DEFAULT_REJECT_THRESHOLD,
) -> AuditOutcome:
    """The audit step: the source's expectation suite over the accepted frame."""
    from expectations.audit import audit_batch

    return audit_batch(
        batch_, data_docs_dir=Path(data_docs_dir), threshold=threshold, build_docs=False
    )


def _lock_ledger_row(conn: Connection, batch_id: int) -> Any:
    query = select(batch).where(batch.c.id == batch_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).one()


def _result(record: BatchRecord, batch_: ExtractedBatch, status: str, **kw: Any) -> PublishResult:
    return PublishResult(
        batch_id=record.id,
        file=record.file,
        source=record.source,
        sha256=record.sha256,
        delivery_order=record.delivery_order,
        status=status,
        rows_read=batch_.rows_read,
        rows_accepted=batch_.rows_accepted,
        rows_rejected=batch_.rows_rejected,
        rows_duplicate=batch_.rows_duplicate,
        **kw,
    )


def _skipped(record: BatchRecord, row: Any) -> PublishResult:
    """The ledger row was finished by someone else meanwhile (a concurrent run)."""
    return PublishResult(
        batch_id=record.id,
        file=record.file,
        source=record.source,
        sha256=record.sha256,
        delivery_order=record.delivery_order,
        status="skipped",
        reason=row.reason,
        rows_read=row.rows_read,
        rows_accepted=row.rows_accepted,
        rows_rejected=row.rows_rejected,
        rows_duplicate=row.rows_duplicate,
    )


def _check_matches(batch_: ExtractedBatch, record: BatchRecord) -> None:
    if (batch_.source, batch_.sha256) != (record.source, record.sha256):
        raise ValueError(
            f"batch {batch_.file.relative} ({batch_.sha256[:12]}) does not match ledger row "
            f"{record.id} ({record.file}, {record.sha256[:12]})"
        )


def quarantine_batch(
    engine: Engine,
    batch_: ExtractedBatch,
    record: BatchRecord,
    reason: str,
    detail: str | None = None,
    *,
    audit: AuditOutcome | None = None,
    started_at: datetime | None = None,
    flow_run_id: str | None = None,
    holder: str | None = None,
) -> PublishResult:
    """Refuse a file: ledger status `quarantined` with its reason and accounting as far as it
    got, its rejects stored for the operator; none of its rows reach the source table.

    A delivery that was published before (re-validated by a backfill) loses its rows, and the
    dates it held go back to the newest remaining published file covering them.
    """
    _check_matches(batch_, record)
    t0 = time.perf_counter()
    holder = holder or default_holder(flow_run_id)
    with publish_transaction(engine, record.source, holder) as (conn, now):
        row = _lock_ledger_row(conn, record.id)
        if row.status in LEDGER_STATUSES:
            return _skipped(record, row)
        withdraw(conn, record, now, published=row.published_at is not None)
        store_rejects(conn, record.id, batch_.rejects)
        conn.execute(
            update(batch)
            .where(batch.c.id == record.id)
            .values(
                status="quarantined",
                reason=reason,
                detail=detail,
                rows_read=batch_.rows_read,
                rows_accepted=batch_.rows_accepted,
                rows_rejected=batch_.rows_rejected,
                rows_duplicate=batch_.rows_duplicate,
                validation_result=audit.result_path if audit else None,
                started_at=started_at or now,
                finished_at=utc_now(),
                published_at=None,
                superseded_at=None,
                flow_run_id=flow_run_id or row.flow_run_id,
            )
        )
        refresh_statuses(conn, record.source, now)
    log.warning("quarantined %s: %s", record.file, reason)
    return _result(
        record,
        batch_,
        "quarantined",
        reason=reason,
        detail=detail,
        seconds=time.perf_counter() - t0,
    )


def publish_batch(
    engine: Engine,
    batch_: ExtractedBatch,
    record: BatchRecord,
    *,
    audit: AuditOutcome | None = None,
    threshold: Decimal = DEFAULT_REJECT_THRESHOLD,
    holder: str | None = None,
    started_at: datetime | None = None,
    flow_run_id: str | None = None,
) -> PublishResult:
    """Publish one extracted (and audited) batch atomically, or quarantine it (rule 6).

    Everything happens in one transaction holding the source's database lock: supersede the
    older rows, copy this file's rows into the source table (no staging copy), ledger,
    rejects. `audit=None` means the caller did not audit (benchmarks, unit tests); the
    pipeline always passes the outcome of `run_audit`.
    """
    _check_matches(batch_, record)
    reason, detail = batch_verdict(batch_, threshold, audit)
    if reason is not None:
        return quarantine_batch(
            engine,
            batch_,
            record,
            reason,
            detail,
            audit=audit,
            started_at=started_at,
            flow_run_id=flow_run_id,
            holder=holder,
        )
    source = SOURCES[record.source]
    target = source_table(source.code)
    holder = holder or default_holder(flow_run_id)
    t0 = time.perf_counter()
    with publish_transaction(engine, source.code, holder) as (conn, now):
        row = _lock_ledger_row(conn, record.id)
        if row.status in LEDGER_STATUSES:
            return _skipped(record, row)
        _reached("after_lock")
        # Older rows first: when this very file is re-processed, its previous rows are among
        # them, and the rows copied below must not be.
        superseded_rows = supersede_older(conn, target, record, now)
        # Straight into the source table, in this transaction: nothing is visible before the
        # commit (write-audit-publish), and the rows are written once.
        newer = newer_periods(conn, record)
        stamped = conn.dialect.name != "postgresql"  # PostgreSQL: the column's default
        for data in stage_chunks(source, batch_.accepted):
            bulk_load(conn, target, with_lineage(data, record.id, now, newer, stamped=stamped))
        _reached("after_stage")

        conn.execute(
            update(batch)
            .where(batch.c.id == record.id)
            .values(
                status="published",
                reason=None,
                detail=None,
                rows_read=batch_.rows_read,
                rows_accepted=batch_.rows_accepted,
                rows_rejected=batch_.rows_rejected,
                rows_duplicate=batch_.rows_duplicate,
                validation_result=audit.result_path if audit else None,
                started_at=started_at or now,
                published_at=now,
                superseded_at=None,
                flow_run_id=flow_run_id or row.flow_run_id,
            )
        )
        refresh_statuses(conn, source.code, now)
        _reached("after_insert")
        store_rejects(conn, record.id, batch_.rejects)
        _reached("before_commit")
        conn.execute(update(batch).where(batch.c.id == record.id).values(finished_at=utc_now()))
        status = conn.execute(select(batch.c.status).where(batch.c.id == record.id)).scalar_one()
    _reached("after_commit")
    seconds = time.perf_counter() - t0
    log.info(
        "published %s: %d rows (%s), %d older rows superseded, %.2fs",
        record.file,
        batch_.rows_accepted,
        status,
        superseded_rows,
        seconds,
    )
    return _result(record, batch_, status, rows_superseded=superseded_rows, seconds=seconds)
