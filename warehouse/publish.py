"""Write-audit-publish of one delivered file, and the batch ledger that orders deliveries.

The steps, each a function a Prefect task can wrap:

1. `register_deliveries` (ledger first): every file seen in a run gets its delivery order
   before anything is read, in the order of rule 2; known content is `skipped`.
2. `run_audit`: the Great Expectations suite of the source, on the extracted frame.
3. `publish_batch`: in ONE transaction, under a per-source database lock: supersede older
   rows for the dates this file covers (set-based), load the accepted rows straight into the
   source table (COPY on PostgreSQL, batched executemany on SQLite) with their lineage columns
   (`batch_id`, `published_at`, `superseded_at`) computed in Arrow beforehand, update the
   ledger, store the rejects. Nothing is visible before the commit. A batch that must be
   quarantined goes to `quarantine_batch` instead: ledger + rejects, none of its rows.

Supersession (sources.md rules 1-2): for each source and partition date the current rows are
those of the published file with the highest delivery order whose period covers that date.
Publishing a file marks current rows of files with a lower (or its own) delivery order in its
period as superseded; its own rows for dates covered by a file with a higher delivery order are
inserted already superseded, so replays and backfills never let an older file win.

A crash at any point leaves the source tables and reject store as before the file (the ledger
row stays `pending` and is resumed, with its delivery order, by the next run).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    and_,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from connectors.batch import ExtractedBatch, LandingFile
from connectors.canonical import arrow_column, canonical_schema, canonical_table
from connectors.sources import SOURCES, Source
from connectors.spool import SpooledRows, chunks
from warehouse.engine import writer
from warehouse.schema import AMOUNT_SCALE, batch, reject, source_lock, source_table

if TYPE_CHECKING:
    from expectations.audit import AuditOutcome

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = Decimal("0.05")
CRASH_ENV = "BUREAU_STATS_TEST_CRASH_AT"  # test hook: os._exit at a named point of publish
LEDGER_LOCK_KEY = 0x62757265_61750002  # pg_advisory_xact_lock key for delivery-order assignment
STAGE_CHUNK_ROWS = 65_536  # rows per CSV chunk streamed into COPY
# rows per executemany on SQLite: each row is a tuple of Python objects there (~0.5 KiB a row
# with its column lists), so a smaller chunk bounds that copy at a few MiB at no cost in speed
SQLITE_CHUNK_ROWS = 8_192
PUBLISH_CHUNK_ROWS = 65_536  # accepted rows converted and loaded at a time (bounds memory)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")  # published_at / superseded_at

Action = Literal["new", "resumed", "skipped"]
FINAL_STATUSES = ("published", "superseded", "quarantined")


# --- records ---------------------------------------------------------------------------------


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


class SourceLocked(RuntimeError):
    """Another process holds the publish lock of a source."""

    def __init__(self, source: str, holder: str, since: datetime | None) -> None:
        self.source, self.holder, self.since = source, holder, since
        when = f" since {since.isoformat(timespec='seconds')}" if since else ""
        super().__init__(f"source {source!r} is locked by {holder}{when}")


class _HasFile(Protocol):
    @property
    def file(self) -> LandingFile: ...


# --- ordering and registration (ledger first) ----------------------------------------------


def _landing_file(item: LandingFile | _HasFile) -> LandingFile:
    return item if isinstance(item, LandingFile) else item.file


def delivery_sort_key(item: LandingFile | _HasFile) -> tuple[date, date, int, str, str]:
    """Rule 2: period end, then period start, then version (then a stable tie-breaker)."""
    f = _landing_file(item)
    return (f.period_end, f.period_start, f.version, f.source, f.relative)


T = TypeVar("T", LandingFile, Delivery, ExtractedBatch)


def order_deliveries(files: Iterable[T]) -> list[T]:
    """Files first seen in the same run, in the delivery order they will be given."""
    return sorted(files, key=delivery_sort_key)


def _now() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
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
        first_seen_at=_as_utc(row.first_seen_at),
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
    now = now or _now()
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


# --- audit and verdict -----------------------------------------------------------------------


def run_audit(
    batch_: ExtractedBatch, *, data_docs_dir: Path | str, threshold: Decimal = DEFAULT_THRESHOLD
) -> AuditOutcome:
    """The audit step: the source's expectation suite over the accepted frame."""
    from expectations.audit import audit_batch

    return audit_batch(
        batch_, data_docs_dir=Path(data_docs_dir), threshold=threshold, build_docs=False
    )


def batch_verdict(
    batch_: ExtractedBatch,
    threshold: Decimal = DEFAULT_THRESHOLD,
    audit: AuditOutcome | None = None,
) -> tuple[str | None, str | None]:
    """(reason, detail) when the file must be quarantined (rule 6), else (None, None)."""
    if batch_.verdict == "quarantine":
        return batch_.reason or "unreadable", batch_.detail
    if batch_.rows_read == 0:
        return "empty", "the file holds no data rows"
    share = Decimal(batch_.rows_rejected) / Decimal(batch_.rows_read)
    if share > Decimal(threshold):
        return "reject_share", (
            f"{batch_.rows_rejected} of {batch_.rows_read} rows rejected, above the "
            f"{(Decimal(threshold) * 100).normalize():f} % threshold"
        )
    if not batch_.accounting_closes:
        return "suite_failed", (
            f"row accounting does not close: read {batch_.rows_read} != accepted "
            f"{batch_.rows_accepted} + rejected {batch_.rows_rejected} + duplicate "
            f"{batch_.rows_duplicate}"
        )
    if audit is not None and not audit.success:
        return "suite_failed", "; ".join(audit.failures)[:2000] or "expectation suite failed"
    return None, None


def needs_audit(batch_: ExtractedBatch, threshold: Decimal = DEFAULT_THRESHOLD) -> bool:
    """Only a batch that would otherwise be published is worth validating."""
    return batch_verdict(batch_, threshold)[0] is None


# --- locks -----------------------------------------------------------------------------------


def source_lock_key(source: str) -> int:
    """A stable signed 64-bit pg_advisory lock key per source."""
    digest = hashlib.sha256(f"bureau-stats/source/{source}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def default_holder(flow_run_id: str | None = None) -> str:
    """Who holds a lock: `<flow run id>@host:pid` inside a Prefect flow run, else `host:pid`."""
    if flow_run_id is None and "prefect" in sys.modules:
        try:
            from prefect.runtime import flow_run

            flow_run_id = flow_run.id
        except Exception:  # not inside a flow run, or Prefect not usable
            flow_run_id = None
    host_pid = f"{socket.gethostname()}:{os.getpid()}"
    return f"{flow_run_id}@{host_pid}" if flow_run_id else host_pid


def _holder_is_dead(holder: str) -> bool:
    """A lease left by a process of this host that no longer exists (killed) is stale."""
    host, _, pid = holder.rsplit("@", 1)[-1].rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _insert_if_absent(conn: Connection, values: dict[str, Any]) -> bool:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(source_lock).values(**values).on_conflict_do_nothing()
    return bool(conn.execute(stmt).rowcount)


# Leases whose release failed (their owner was done, the database refused the DELETE: a full
# disk, a lost connection): (warehouse, source, holder). They are stale, not held: this process
# takes them over (or, for the same holder, adopts them) at its next acquire or publish; other
# processes do once this one has ended (`_holder_is_dead`).
_abandoned: set[tuple[str, str, str]] = set()
_abandoned_lock = threading.Lock()


def _warehouse_key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _is_abandoned(engine: Engine, source: str, holder: str) -> bool:
    with _abandoned_lock:
        return (_warehouse_key(engine), source, holder) in _abandoned


def _forget_abandoned(engine: Engine, source: str, *holders: str) -> None:
    key = _warehouse_key(engine)
    with _abandoned_lock:
        _abandoned.difference_update((key, source, h) for h in holders)


def _is_stale(conn: Connection, source: str, holder: str) -> bool:
    """A lease nobody uses any more: abandoned by this process, or its process is gone."""
    return _is_abandoned(conn.engine, source, holder) or _holder_is_dead(holder)


def _try_take(conn: Connection, source: str, holder: str) -> tuple[bool, bool, Any]:
    """(acquired, ours to delete, current row) for one source lease.

    Ours to delete: inserted now, taken over from a stale holder, or our own abandoned lease.
    """
    now = _now()
    inserted = _insert_if_absent(conn, {"source": source, "holder": holder, "acquired_at": now})
    row = conn.execute(select(source_lock).where(source_lock.c.source == source)).one()
    if row.holder == holder:
        return True, inserted or _is_abandoned(conn.engine, source, holder), row
    if _is_stale(conn, source, row.holder):
        log.warning(
            "taking over the lock of %s left by %s (process gone or lease abandoned)",
            source,
            row.holder,
        )
        taken = conn.execute(
            update(source_lock)
            .where(source_lock.c.source == source, source_lock.c.holder == row.holder)
            .values(holder=holder, acquired_at=now)
        ).rowcount
        return bool(taken), bool(taken), row
    return False, False, row


class SourceLease:
    """Publish leases on sources, visible in `source_lock` (who holds it, since when).

    The mutual exclusion of publishing itself is the database lock taken inside each publish
    transaction (pg_advisory_xact_lock / SQLite BEGIN IMMEDIATE); the lease lets a long
    operation (a run, a backfill) keep a source for itself across many transactions, and lets
    an operator see who has it. Release with `release()` or use as a context manager.
    """

    def __init__(self, engine: Engine, holder: str) -> None:
        self.engine, self.holder = engine, holder
        self.sources: list[str] = []  # leases this object inserted (and will delete)

    def release(self) -> bool:
        """Delete this object's leases; False when the database refused (then logged).

        Never raises for a database error (full disk, lost connection): releasing is cleanup,
        and must not replace the outcome of the run it ends. The log names the sources, the
        holder and the error type, never a statement or a value. The leases left behind are
        abandoned, not held: this process takes them over at its next acquire or publish,
        and any later run does once this process has ended (`_holder_is_dead`; for a Prefect
        flow run, once it is in a final state, `tasks.locks`). Calling `release()` again
        retries.
        """
        if not self.sources:
            return True
        sources = list(self.sources)
        try:
            with writer(self.engine) as conn:
                conn.execute(
                    delete(source_lock).where(
                        source_lock.c.source.in_(sources), source_lock.c.holder == self.holder
                    )
                )
        except Exception as exc:
            key = _warehouse_key(self.engine)
            with _abandoned_lock:
                _abandoned.update((key, s, self.holder) for s in sources)
            log.error(
                "could not release the lease of %s held by %s (%s); it is taken over by the "
                "next run",
                ", ".join(sources),
                self.holder,
                type(exc).__name__,
            )
            return False
        for source in sources:
            _forget_abandoned(self.engine, source, self.holder)
        self.sources = []
        return True

    def __enter__(self) -> SourceLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire_source_locks(
    engine: Engine,
    sources: Iterable[str],
    holder: str | None = None,
    wait: bool = True,
    *,
    timeout: float | None = None,
    poll_seconds: float = 0.5,
    on_wait: Callable[[str, str, datetime], None] | None = None,
) -> SourceLease:
    """Lease every source in `sources` for `holder` (sorted order, so no deadlock).

    `on_wait(source, holder, since)` is told once per source when it has to wait (a Prefect
    task passes its run logger: a queued backfill says in the UI and on the terminal whom it
    waits for).

    `wait=False` raises `SourceLocked(source, holder, since)` at the first source another
    live holder has (releasing what was taken); `wait=True` polls until free, or until
    `timeout` seconds and then raises. Leases of a killed process on this host, and leases
    this process could not release, are taken over. Re-entrant: a source already leased by the
    same holder counts as acquired.
    """
    lease = SourceLease(engine, holder or default_holder())
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        for source in sorted(set(sources)):
            announced = False
            while True:
                with writer(engine) as conn:
                    acquired, ours, row = _try_take(conn, source, lease.holder)
                if acquired:
                    if ours:
                        lease.sources.append(source)
                        _forget_abandoned(engine, source, lease.holder, row.holder)
                    break
                since = _as_utc(row.acquired_at)
                if not wait or (deadline is not None and time.monotonic() >= deadline):
                    raise SourceLocked(source, row.holder, since)
                if not announced:
                    log.info(
                        "waiting for source %s, locked by %s since %s", source, row.holder, since
                    )
                    if on_wait is not None:
                        on_wait(source, row.holder, since)
                    announced = True
                time.sleep(poll_seconds)
    except BaseException:
        lease.release()
        raise
    return lease


def _lock_source_for_publish(conn: Connection, source: str, holder: str) -> None:
    """Inside the publish transaction: the database lock, and respect another holder's lease."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": source_lock_key(source)})
    # SQLite: the transaction began with BEGIN IMMEDIATE, which already excludes other writers.
    row = conn.execute(select(source_lock).where(source_lock.c.source == source)).first()
    if row is not None and row.holder != holder and not _is_stale(conn, source, row.holder):
        raise SourceLocked(source, row.holder, _as_utc(row.acquired_at))


# --- loading ---------------------------------------------------------------------------------


def _crash_point(name: str) -> None:
    """Test hook: die like a SIGKILL (no cleanup, no rollback) at a named point.

    The points of `publish_batch`, in order, all inside its transaction except the last:
    `after_lock` (locks held, nothing written), `after_stage` (older rows superseded and this
    file's rows copied into the source table), `after_insert` (ledger row marked published,
    statuses refreshed), `before_commit` (rejects stored), `after_commit`.
    """
    if os.environ.get(CRASH_ENV) == name:
        logging.shutdown()
        os._exit(86)


def stage_schema(source: Source) -> pa.Schema:
    """What `stage_frame` returns: the connector's canonical schema of the source."""
    return canonical_schema(source)


def stage_frame(source: Source, accepted: pd.DataFrame | pa.Table | SpooledRows) -> pa.Table:
    """The accepted rows as an Arrow table: line, partition_date, then the declared fields
    (safe casts only: never a lost digit or time of day)."""
    if isinstance(accepted, SpooledRows):
        accepted = accepted.read_all()
    return canonical_table(source, accepted)


def stage_chunks(
    source: Source, accepted: pd.DataFrame | pa.Table | SpooledRows
) -> Iterator[pa.Table]:
    """`stage_frame` a bounded number of rows at a time (a spooled file is never read whole)."""
    for chunk in chunks(accepted, PUBLISH_CHUNK_ROWS):
        yield canonical_table(source, chunk)


def _distinct_as_text(col: pa.ChunkedArray | pa.Array, show: Callable[[Any], Any]) -> pa.Array:
    """A column whose values repeat (a batch's timestamps) through `show`, each distinct
    value converted once; `show` returns text (or an int), None stays None."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    encoded = col.dictionary_encode()
    shown = pa.array([None if v is None else show(v) for v in encoded.dictionary.to_pylist()])
    return shown.take(encoded.indices)


def _csv_chunks(table: pa.Table) -> Iterator[bytes]:
    """CSV text for COPY, written vectorized by Arrow (strings quoted, NULL = empty field)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            # Arrow's CSV writer formats zoned timestamps slowly (~2 s per million values):
            # the few distinct instants of a batch are formatted once instead.
            text_ = _distinct_as_text(table.column(i), lambda v: v.isoformat(sep=" "))
            table = table.set_column(i, field.name, text_)
    options = pacsv.WriteOptions(include_header=False)
    for chunk in table.to_batches(max_chunksize=STAGE_CHUNK_ROWS):
        buf = io.BytesIO()
        pacsv.write_csv(chunk, buf, options)
        yield buf.getvalue()


def _sqlite_datetime(value: datetime) -> str:
    """A timestamp as SQLAlchemy stores it on SQLite (the same text, so `=` still matches)."""
    dialect = sqlite.dialect()
    shown = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert shown is not None
    return str(shown(value))


def _python_columns(table: pa.Table) -> list[list[Any]]:
    """Arrow columns as the values SQLAlchemy would store on SQLite (dates ISO, amounts scaled,
    timestamps as SQLAlchemy's text)."""
    out: list[list[Any]] = []
    for col in table.columns:
        if pa.types.is_date(col.type):
            out.append(col.cast(pa.string()).to_pylist())
        elif pa.types.is_decimal(col.type):
            out.append(
                [None if v is None else int(v.scaleb(AMOUNT_SCALE)) for v in col.to_pylist()]
            )
        elif pa.types.is_timestamp(col.type):
            # A batch's timestamps are a few instants (published_at, superseded_at).
            out.append(_distinct_as_text(col, _sqlite_datetime).to_pylist())
        else:
            out.append(col.to_pylist())
    return out


def bulk_load(conn: Connection, table: Table, data: pa.Table) -> None:
    """Load an Arrow table into `table` (columns by name): COPY on PostgreSQL, executemany on
    SQLite. Never one INSERT per row from Python on PostgreSQL."""
    if data.num_rows == 0:
        return
    names = data.column_names
    if conn.dialect.name == "postgresql":
        prep = conn.dialect.identifier_preparer
        target = prep.format_table(table)
        cols = ", ".join(prep.quote(n) for n in names)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {target} ({cols}) FROM STDIN (FORMAT csv)") as copy:
            for chunk in _csv_chunks(data):
                copy.write(chunk)
        return
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=names)
    order = list(compiled.positiontup or [])  # qmark parameters, in the statement's order
    data = data.select(order)
    sql = str(compiled)
    for chunk in data.to_batches(max_chunksize=SQLITE_CHUNK_ROWS):
        rows = list(zip(*_python_columns(pa.Table.from_batches([chunk])), strict=True))
        conn.exec_driver_sql(sql, rows)  # type: ignore[arg-type]
        del rows


def staging_table(source: Source, name: str, *, temporary: bool = True) -> Table:
    """A table shaped like the source table's data columns: line, partition_date, fields.

    Publishing no longer stages (it copies straight into the source table); the benchmarks
    use this for their bare comparison tables. Temporary by default (session-local, not
    WAL-logged; dropped at commit on PostgreSQL).
    """
    target = source_table(source.code)
    columns = [
        Column(c.name, c.type)
        for c in target.columns
        if c.name not in ("batch_id", "published_at", "superseded_at")
    ]
    if not temporary:
        return Table(name, MetaData(), *columns)
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


def _with_lineage(
    data: pa.Table, batch_id: int, now: datetime, newer: list[tuple[date, date]]
) -> pa.Table:
    """The staged rows with the source table's lineage columns, computed in Arrow.

    `batch_id` and `published_at` are constants; `superseded_at` is `now` for rows whose
    partition date lies in a period of a file delivered after this one (rule 2, `newer`), and
    is left out (NULL) when no row does.
    """
    n = data.num_rows
    lineage = data.add_column(0, "batch_id", pa.repeat(pa.scalar(batch_id, pa.int64()), n))
    stamp = pa.scalar(now, TIMESTAMP_TYPE)
    lineage = lineage.add_column(3, "published_at", pa.repeat(stamp, n))
    days = data.column("partition_date")
    covered: Any = None
    for start, end in newer:
        inside = pc.and_(
            pc.greater_equal(days, pa.scalar(start, pa.date32())),
            pc.less_equal(days, pa.scalar(end, pa.date32())),
        )
        covered = inside if covered is None else pc.or_(covered, inside)
    if covered is not None and pc.any(covered).as_py():
        superseded = pc.if_else(covered, stamp, pa.scalar(None, TIMESTAMP_TYPE))
        lineage = lineage.add_column(4, "superseded_at", superseded)
    return lineage


# --- supersession and the ledger -------------------------------------------------------------


def _covered(intervals: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s <= start and end <= e for s, e in intervals)


def _add_interval(intervals: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Union of day intervals (inclusive ordinals), adjacent days merged."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted([*intervals, (start, end)]):
        if merged and s <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def ledger_statuses(rows: Iterable[Any]) -> dict[int, str]:
    """Status of each published file of one source: `superseded` when every date of its period
    is covered by files with a higher delivery order, else `published`. Pure."""
    out: dict[int, str] = {}
    union: list[tuple[int, int]] = []
    for r in sorted(rows, key=lambda r: r.delivery_order, reverse=True):
        start, end = r.period_start.toordinal(), r.period_end.toordinal()
        out[r.id] = "superseded" if _covered(union, start, end) else "published"
        union = _add_interval(union, start, end)
    return out


def _refresh_statuses(conn: Connection, source: str, now: datetime) -> None:
    rows = conn.execute(
        select(
            batch.c.id,
            batch.c.delivery_order,
            batch.c.period_start,
            batch.c.period_end,
            batch.c.status,
        ).where(batch.c.source == source, _live())
    ).all()
    wanted = ledger_statuses(rows)  # a reopened (pending) file still covers; it keeps its status
    to_supersede = [r.id for r in rows if r.status == "published" and wanted[r.id] == "superseded"]
    to_restore = [r.id for r in rows if r.status == "superseded" and wanted[r.id] == "published"]
    if to_supersede:
        conn.execute(
            update(batch)
            .where(batch.c.id.in_(to_supersede))
            .values(status="superseded", superseded_at=now)
        )
    if to_restore:
        conn.execute(
            update(batch)
            .where(batch.c.id.in_(to_restore))
            .values(status="published", superseded_at=None)
        )


def _owners(rows: Iterable[Any], start: date, end: date) -> list[tuple[int, date, date]]:
    """(batch id, from, to): which published file holds each date of [start, end] (rule 1),
    as maximal runs of days. Pure."""
    out: list[tuple[int, date, date]] = []
    taken: list[tuple[int, int]] = []
    lo, hi = start.toordinal(), end.toordinal()
    for r in sorted(rows, key=lambda r: r.delivery_order, reverse=True):
        s, e = max(lo, r.period_start.toordinal()), min(hi, r.period_end.toordinal())
        day = s
        while day <= e:
            blocker = next(((a, b) for a, b in taken if a <= day <= b), None)
            if blocker is not None:
                day = blocker[1] + 1
                continue
            nxt = min([a for a, _ in taken if a > day] + [e + 1])
            run_end = min(e, nxt - 1)
            out.append((r.id, date.fromordinal(day), date.fromordinal(run_end)))
            day = run_end + 1
        if s <= e:
            taken = _add_interval(taken, s, e)
    return out


def _live() -> Any:
    """Ledger rows whose rows count for rule 1: published (or superseded) deliveries, and
    those a backfill reopened (pending again after a publication): their rows stay current
    until the file is processed again, so they must still count as newer and as owners."""
    return or_(
        batch.c.status.in_(("published", "superseded")),
        and_(batch.c.status == "pending", batch.c.published_at.is_not(None)),
    )


def _withdraw(conn: Connection, record: BatchRecord, now: datetime, *, published: bool) -> None:
    """Take a previously published delivery's rows out, and give its dates back to the files
    that held them before: the rows of their last publication (the ledger's `published_at`,
    the timestamp every row of that publication carries) are re-inserted as current,
    published now. Not the owner's newest rows: an earlier withdrawal may have re-inserted
    only some of its dates, later than the others."""
    target = source_table(record.source)
    withdrawn = conn.execute(
        update(target)
        .where(target.c.batch_id == record.id, target.c.superseded_at.is_(None))
        .values(superseded_at=now)
    ).rowcount
    # Decided by the ledger, not by the rows taken out: a delivery whose rows are all superseded
    # by newer files may still own dates where it has no rows; those go back too.
    if not withdrawn and not published:
        return
    others = conn.execute(
        select(batch.c.id, batch.c.delivery_order, batch.c.period_start, batch.c.period_end).where(
            batch.c.source == record.source,
            _live(),
            batch.c.id != record.id,
            batch.c.period_start <= record.period_end,
            batch.c.period_end >= record.period_start,
        )
    ).all()
    fields = [c.name for c in target.columns if c.name not in ("published_at", "superseded_at")]
    for owner, first, last in _owners(others, record.period_start, record.period_end):
        latest = select(batch.c.published_at).where(batch.c.id == owner).scalar_subquery()
        current = target.alias("current_rows")
        conn.execute(
            insert(target).from_select(
                [*fields, "published_at", "superseded_at"],
                select(
                    *(target.c[f] for f in fields),
                    literal(now, DateTime(timezone=True)),
                    cast(null(), DateTime(timezone=True)),
                ).where(
                    target.c.batch_id == owner,
                    target.c.published_at == latest,
                    target.c.partition_date.between(first, last),
                    ~exists().where(
                        current.c.batch_id == owner,
                        current.c.superseded_at.is_(None),
                        current.c.partition_date == target.c.partition_date,
                    ),
                ),
            )
        )


def _supersede_older(conn: Connection, target: Table, record: BatchRecord, now: datetime) -> int:
    """Rule 1: rows of files delivered before this one (or of this very file, when it is
    re-processed) stop being current for the dates this file covers; how many did.

    A file's rows are dated inside its period (the connector rejects the others, `_withdraw`
    restores only dates of the owner's period), so only files whose period overlaps this one
    can hold such rows; they are listed from the ledger first, which keeps the UPDATE a single
    scan (a sub-select made PostgreSQL scan the source table once per older file: quadratic
    over a year) and skips it for a file of a new period. This file itself counts only if it
    ever had current rows (published_at is cleared when a delivery is quarantined, and its
    rows are then no longer current).
    """
    older = [
        r.id
        for r in conn.execute(
            select(batch.c.id, batch.c.published_at).where(
                batch.c.source == record.source,
                batch.c.delivery_order <= record.delivery_order,
                batch.c.period_start <= record.period_end,
                batch.c.period_end >= record.period_start,
            )
        )
        if r.id != record.id or r.published_at is not None
    ]
    if not older:
        return 0
    return int(
        conn.execute(
            update(target)
            .where(
                target.c.superseded_at.is_(None),
                target.c.partition_date.between(record.period_start, record.period_end),
                target.c.batch_id.in_(older),
            )
            .values(superseded_at=now)
        ).rowcount
    )


def _newer_periods(conn: Connection, record: BatchRecord) -> list[tuple[date, date]]:
    """Rule 2: the parts of this file's period covered by published (or superseded) files of
    the same source delivered after it, as merged date intervals. Pure ledger lookup."""
    merged: list[tuple[int, int]] = []
    for r in conn.execute(
        select(batch.c.period_start, batch.c.period_end).where(
            batch.c.source == record.source,
            _live(),
            batch.c.delivery_order > record.delivery_order,
            batch.c.period_start <= record.period_end,
            batch.c.period_end >= record.period_start,
        )
    ):
        merged = _add_interval(merged, r.period_start.toordinal(), r.period_end.toordinal())
    return [(date.fromordinal(s), date.fromordinal(e)) for s, e in merged]


def _store_rejects(conn: Connection, batch_id: int, rejects: pd.DataFrame) -> None:
    """The batch's rejected rows (raw already masked and hashed by the connector)."""
    conn.execute(delete(reject).where(reject.c.batch_id == batch_id))
    if rejects is None or len(rejects) == 0:
        return
    n = len(rejects)
    data = pa.Table.from_arrays(
        [
            pa.array([batch_id] * n, type=pa.int64()),
            arrow_column(rejects["line"].reset_index(drop=True), pa.int64()),
            arrow_column(rejects["reason"].astype(object).reset_index(drop=True), pa.string()),
            arrow_column(
                rejects["column"]
                .astype(object)
                .where(rejects["column"].notna(), None)
                .reset_index(drop=True),
                pa.string(),
            ),
            arrow_column(rejects["raw"].astype(object).reset_index(drop=True), pa.string()),
        ],
        names=["batch_id", "line", "reason", "column", "raw"],
    )
    bulk_load(conn, reject, data)


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
    with writer(engine) as conn:
        _lock_source_for_publish(conn, record.source, holder or default_holder(flow_run_id))
        row = _lock_ledger_row(conn, record.id)
        if row.status in FINAL_STATUSES:
            return _skipped(record, row)
        now = _now()
        _withdraw(conn, record, now, published=row.published_at is not None)
        _store_rejects(conn, record.id, batch_.rejects)
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
                finished_at=_now(),
                published_at=None,
                superseded_at=None,
                flow_run_id=flow_run_id or row.flow_run_id,
            )
        )
        _refresh_statuses(conn, record.source, now)
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
    threshold: Decimal = DEFAULT_THRESHOLD,
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
    with writer(engine) as conn:
        _lock_source_for_publish(conn, source.code, holder)
        row = _lock_ledger_row(conn, record.id)
        if row.status in FINAL_STATUSES:
            return _skipped(record, row)
        now = _now()
        _crash_point("after_lock")
        # Older rows first: when this very file is re-processed, its previous rows are among
        # them, and the rows copied below must not be.
        superseded_rows = _supersede_older(conn, target, record, now)
        # Straight into the source table, in this transaction: nothing is visible before the
        # commit (write-audit-publish), and the rows are written once.
        newer = _newer_periods(conn, record)
        for data in stage_chunks(source, batch_.accepted):
            bulk_load(conn, target, _with_lineage(data, record.id, now, newer))
        _crash_point("after_stage")

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
        _refresh_statuses(conn, source.code, now)
        _crash_point("after_insert")
        _store_rejects(conn, record.id, batch_.rejects)
        _crash_point("before_commit")
        conn.execute(update(batch).where(batch.c.id == record.id).values(finished_at=_now()))
        status = conn.execute(select(batch.c.status).where(batch.c.id == record.id)).scalar_one()
    _crash_point("after_commit")
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


@dataclass
class WapOutcome:
    """The audit and publish results of one file."""

    result: PublishResult
    audit: AuditOutcome | None = None


def write_audit_publish(
    engine: Engine,
    batch_: ExtractedBatch,
    record: BatchRecord,
    *,
    data_docs_dir: Path | str,
    threshold: Decimal = DEFAULT_THRESHOLD,
    holder: str | None = None,
    started_at: datetime | None = None,
    flow_run_id: str | None = None,
) -> WapOutcome:
    """Audit (when the file would otherwise be published) then publish or quarantine."""
    audit = (
        run_audit(batch_, data_docs_dir=data_docs_dir, threshold=threshold)
        if needs_audit(batch_, threshold)
        else None
    )
    result = publish_batch(
        engine,
        batch_,
        record,
        audit=audit,
        threshold=threshold,
        holder=holder,
        started_at=started_at,
        flow_run_id=flow_run_id,
    )
    return WapOutcome(result=result, audit=audit)
