"""The pipeline's steps as plain functions: discover -> fingerprint -> register -> extract ->
audit -> publish, and `convey`, the loop that feeds a run's files from the reader process to
an executor. The run model (`flows.run`) composes them; its two executors
(`flows.executors`) both drive `convey`. The in-process nightly run is `flows.run.ingest`.

One bad file never stops the others: every per-file failure becomes that file's outcome.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import fsspec
from sqlalchemy import Engine, select

from bureau_stats.heap import release_freed_memory
from bureau_stats.outcome import FileOutcome, Ignored
from bureau_stats.read_ahead import Read, ReadAhead
from connectors.batch import ExtractedBatch, LandingFile
from connectors.sources import SOURCES
from connectors.verdict import needs_audit
from warehouse.checks import ytd_decreases
from warehouse.delivery_warnings import record_warnings
from warehouse.ledger import BatchRecord, Delivery, order_deliveries, register_deliveries
from warehouse.publish import PublishResult, publish_batch, quarantine_batch, run_audit
from warehouse.schema import batch as batch_table

if TYPE_CHECKING:
    from expectations.audit import AuditOutcome

log = logging.getLogger(__name__)

HASH_CHUNK = 1 << 20
HASH_THREADS = min(4, os.cpu_count() or 1)
T = TypeVar("T")


# --- steps -----------------------------------------------------------------------------------


def discover_step(landing: str) -> tuple[list[LandingFile], list[Ignored]]:
    """Deliveries in the landing area and the files ignored (with why)."""
    from connectors.landing import discover

    files, ignored = discover(landing)
    entries = [
        Ignored(getattr(i, "relative", str(i)), getattr(i, "why", "not a delivery"))
        for i in ignored
    ]
    return list(files), entries


def fingerprint(file: LandingFile) -> Delivery:
    """sha256 of the content, streamed: a known file is skipped without being parsed."""
    digest = hashlib.sha256()
    size = 0
    with fsspec.open(file.path, "rb") as fp:
        while chunk := fp.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return Delivery(file=file, sha256=digest.hexdigest(), size=size)


def largest_sources_first(
    todo: dict[str, list[tuple[T, Delivery, BatchRecord]]],
) -> dict[str, list[tuple[T, Delivery, BatchRecord]]]:
    """The sources with the most bytes to read go first (each keeps its delivery order).

    Both processes' heaps grow by fragmentation from file to file and hardly shrink back;
    the biggest files, read and published while the heaps are fresh, then set a run's peak
    (a --scale 100 year: 884-908 MiB against 976-1,039 in discovery order).
    """
    return dict(sorted(todo.items(), key=lambda kv: -sum(d.size for _, d, _ in kv[1])))


def fingerprint_all(files: Sequence[LandingFile]) -> list[Delivery | OSError]:
    """`fingerprint` of each file, in order; an unreadable file gives its OSError instead.

    Hashed on a few threads (sha256 and file reads release the GIL): every run hashes the whole
    landing area, and that is most of our part of a nightly run that finds nothing new.
    """

    def attempt(file: LandingFile) -> Delivery | OSError:
        try:
            return fingerprint(file)
        except OSError as exc:  # one unreadable file must not stop the others
            return exc

    with ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="fingerprint") as pool:
        return list(pool.map(attempt, files))


def register_step(
    engine: Engine, deliveries: Iterable[Delivery], flow_run_id: str | None = None
) -> list[tuple[Delivery, BatchRecord]]:
    """Ledger first: delivery orders for this run's new files, in rule-2 order."""
    ordered = order_deliveries(list(deliveries))
    records = register_deliveries(engine, ordered, flow_run_id=flow_run_id)
    return list(zip(ordered, records, strict=True))


def extract_step(
    file: LandingFile, pii_key: bytes, threshold: Decimal, spool_dir: Path | None = None
) -> ExtractedBatch:
    from connectors.extract import extract_file

    return extract_file(file, pii_key=pii_key, threshold=threshold, spool_dir=spool_dir)


def audit_step(
    batch: ExtractedBatch, data_docs_dir: Path, threshold: Decimal
) -> AuditOutcome | None:
    """The expectation suite, for a batch that would otherwise be published."""
    if not needs_audit(batch, threshold):
        return None
    return run_audit(batch, data_docs_dir=data_docs_dir, threshold=threshold)


def publish_step(
    engine: Engine,
    batch: ExtractedBatch,
    record: BatchRecord,
    audit: AuditOutcome | None,
    threshold: Decimal,
    holder: str | None = None,
    started_at: datetime | None = None,
    flow_run_id: str | None = None,
) -> PublishResult:
    return publish_batch(
        engine,
        batch,
        record,
        audit=audit,
        threshold=threshold,
        holder=holder,
        started_at=started_at,
        flow_run_id=flow_run_id,
    )


def _refused(record: BatchRecord, file: LandingFile, reason: str, detail: str) -> ExtractedBatch:
    """An empty batch standing for content that could not be processed at all."""
    return ExtractedBatch.refused(file, record.sha256, reason, detail)


def machine_error(exc: BaseException) -> str | None:
    """Why the machine, not the file, failed (None when it may be the file): an OSError (disk,
    permissions) or an ImportError (a broken install, or a module another thread was still
    importing), itself or as a cause. Such a file stays pending: quarantine would be final.
    The text names an exception type and a module, never a value from the file."""
    cause = _machine_cause(exc)
    return None if cause is None else _machine_text(cause)


def _machine_text(cause: BaseException) -> str:
    if isinstance(cause, ImportError):
        return f"{type(cause).__name__}: {cause.name or 'a module'}"
    return type(cause).__name__


def _machine_cause(exc: BaseException) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError | ImportError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def process_file(
    engine: Engine,
    delivery: Delivery,
    record: BatchRecord,
    *,
    pii_key: bytes,
    threshold: Decimal,
    data_docs_dir: Path,
    holder: str | None = None,
    flow_run_id: str | None = None,
    spool_dir: Path | None = None,
) -> FileOutcome:
    """extract -> audit -> publish for one registered file; never raises for a bad file.

    Exception messages are not logged at error level: a reader's message may quote a cell.
    """
    t0 = time.perf_counter()
    started_at = datetime.now(UTC)
    extracted = extract_delivery(
        delivery, record, pii_key=pii_key, threshold=threshold, spool_dir=spool_dir
    )
    if isinstance(extracted, FileOutcome):
        return extracted
    audited = audit_delivery(extracted, threshold=threshold, data_docs_dir=data_docs_dir)
    return publish_delivery(
        engine,
        extracted,
        record,
        audited,
        threshold=threshold,
        holder=holder,
        flow_run_id=flow_run_id,
        started_at=started_at,
        t0=t0,
    )


def extract_delivery(
    delivery: Delivery,
    record: BatchRecord,
    *,
    pii_key: bytes,
    threshold: Decimal,
    spool_dir: Path | None = None,
) -> ExtractedBatch | FileOutcome:
    """The extract half of `process_file`: the batch, or the outcome of a file that could not
    be read (it stays pending). With `spool_dir`, the accepted rows are spooled there."""
    file = delivery.file
    try:
        batch = extract_step(file, pii_key, threshold, spool_dir)
    except (OSError, ImportError) as exc:  # transient: the ledger row stays pending
        # Only what the reader raised itself: a corrupt file's error may carry an OSError as
        # its context (zipfile's BadZipFile on a file too short to seek in) and is final.
        why = machine_error(exc)
        log.error("%s: cannot read (%s); will retry next run", file.relative, why)
        return FileOutcome.failed(file, record, f"read error ({why})")
    except Exception as exc:
        log.error("%s: reader failed (%s)", file.relative, type(exc).__name__)
        log.debug("reader failure", exc_info=True)
        batch = _refused(record, file, "unreadable", f"reader failed ({type(exc).__name__})")
    if batch.sha256 != record.sha256:
        batch.discard()
        batch = _refused(
            record,
            file,
            "unreadable",
            "content changed while being read; the new content is a new delivery",
        )
    return batch


@dataclass
class Audited:
    """The audit's outcome, or why it could not run (decided on when publishing)."""

    audit: AuditOutcome | None = None
    error: Exception | None = None


def audit_delivery(batch: ExtractedBatch, *, threshold: Decimal, data_docs_dir: Path) -> Audited:
    try:
        return Audited(audit=audit_step(batch, data_docs_dir, threshold))
    except Exception as exc:
        return Audited(error=exc)


def publish_delivery(
    engine: Engine,
    batch: ExtractedBatch,
    record: BatchRecord,
    audited: Audited,
    *,
    threshold: Decimal,
    holder: str | None = None,
    flow_run_id: str | None = None,
    started_at: datetime | None = None,
    t0: float | None = None,
) -> FileOutcome:
    """Publish an audited batch, or quarantine it / leave it pending when the audit failed.
    Either way its spooled rows are removed: a file left pending is read again next run."""
    try:
        t0 = time.perf_counter() if t0 is None else t0
        started_at = started_at or datetime.now(UTC)
        file = batch.file
        audit = audited.audit
        exc = audited.error
        if exc is not None:
            cause = _machine_cause(exc)
            if cause is not None:
                # The disk under the validation results (full, unwritable) or the installation,
                # not the data: a quarantine would be final and the next run would skip the file.
                why = _machine_text(cause)
                log.error("%s: audit could not run (%s); will retry next run", file.relative, why)
                if isinstance(cause, ImportError):  # its text names modules and paths only
                    log.error("%s: %s", file.relative, cause)
                log.debug("audit failure", exc_info=exc)
                return FileOutcome.failed(file, record, f"audit error ({why})")
            log.error("%s: audit failed to run (%s)", file.relative, type(exc).__name__)
            log.debug("audit failure", exc_info=exc)
            result = quarantine_batch(
                engine,
                batch,
                record,
                "suite_failed",
                f"the audit could not run ({type(exc).__name__})",
                started_at=started_at,
                flow_run_id=flow_run_id,
                holder=holder,
            )
            return FileOutcome.from_result(result, time.perf_counter() - t0)
        try:
            result = publish_step(
                engine, batch, record, audit, threshold, holder, started_at, flow_run_id
            )
        except Exception as exc:  # database trouble: rolled back, the row stays pending
            log.error(
                "%s: publish failed (%s); will retry next run", file.relative, type(exc).__name__
            )
            log.debug("publish failure", exc_info=True)
            return FileOutcome.failed(file, record, f"publish error ({type(exc).__name__})")
        outcome = FileOutcome.from_result(result, time.perf_counter() - t0)
        outcome.warnings = list(batch.warnings) + (audit.warnings if audit is not None else [])
        if result.status in ("published", "superseded"):
            outcome.warnings += ytd_decreases(engine, SOURCES[file.source], record.id)
        for warning in outcome.warnings:
            log.warning("%s: %s", file.relative, warning)
        record_warnings(engine, record.id, outcome.warnings)  # `status --json` lists them
        return outcome

    finally:
        batch.discard()
        release_freed_memory()


def _finished(outcome: FileOutcome) -> Future[FileOutcome]:
    future: Future[FileOutcome] = Future()
    future.set_result(outcome)
    return future


def final_statuses(engine: Engine, outcomes: list[FileOutcome]) -> None:
    """A file published early in the run may be superseded by a later one of the same run."""
    orders = [o.delivery_order for o in outcomes if o.status == "published" and o.delivery_order]
    if not orders:
        return
    with engine.connect() as conn:
        now = dict(
            conn.execute(
                select(batch_table.c.delivery_order, batch_table.c.status).where(
                    batch_table.c.delivery_order.in_(orders)
                )
            ).all()
        )
    for o in outcomes:
        if o.status == "published" and o.delivery_order in now:
            o.status = now[o.delivery_order]


# --- the conveyor both executors drive ----------------------------------------------------------


class InFlight(Protocol):
    """One file handed to an executor: done when its outcome is known."""

    audited: threading.Event  # set once the file no longer needs the CPU of this process

    def wait(self) -> FileOutcome: ...


Submit = Callable[[T, BatchRecord, Read, InFlight | None], InFlight]


def convey(
    order: Sequence[tuple[T, Delivery, BatchRecord]],
    reader: ReadAhead,
    submit: Submit[T],
    on_done: Callable[[T, FileOutcome], None],
) -> None:
    """Feed the files of `order` from the reader process to `submit`, one at a time.

    `submit(item, record, read, before)` audits and publishes one file (the in-process
    executor: audit here, publish on its publisher thread; the Prefect executor: one task per
    file) and must publish only after `before` finished. The next file is taken from the
    reader once the previous one is audited and the one before it finished: one file is
    published while the next is audited and a third is read, as in memory as two files.
    """
    running: deque[tuple[T, InFlight]] = deque()

    def collect() -> None:
        item, flight = running.popleft()
        on_done(item, flight.wait())

    for item, _, _ in order:
        while len(running) >= 2:
            collect()
        if running:
            running[-1][1].audited.wait()
        _, record, read = reader.take()
        running.append((item, submit(item, record, read, running[-1][1] if running else None)))
    while running:
        collect()


@dataclass
class LocalFlight:
    """A file audited on the calling thread, published on the publisher thread."""

    future: Future[FileOutcome]
    audited: threading.Event = field(default_factory=threading.Event)

    def wait(self) -> FileOutcome:
        return self.future.result()


def local_submitter(
    engine: Engine,
    publisher: ThreadPoolExecutor,
    *,
    threshold: Decimal,
    data_docs_dir: Path,
    holder: str | None,
    flow_run_id: str | None,
    reopen: Callable[[T], bool],
) -> Submit[T]:
    """`convey`'s submit for the in-process executor (the publisher has one thread, so files
    are published in the order they were submitted)."""

    def submit(item: T, record: BatchRecord, read: Read, before: InFlight | None) -> InFlight:
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        if isinstance(read, FileOutcome):
            flight = LocalFlight(_finished(read))
            flight.audited.set()
            return flight
        audited = audit_delivery(read, threshold=threshold, data_docs_dir=data_docs_dir)
        release_freed_memory()

        def publish() -> FileOutcome:
            if reopen(item):
                from warehouse.ledger import reopen_delivery

                reopen_delivery(engine, record.id)
            return publish_delivery(
                engine,
                read,
                record,
                audited,
                threshold=threshold,
                holder=holder,
                flow_run_id=flow_run_id,
                started_at=started_at,
                t0=t0,
            )

        flight = LocalFlight(publisher.submit(publish))
        flight.audited.set()
        return flight

    return submit
