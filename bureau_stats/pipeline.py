"""The ingest pipeline as plain functions: discover -> fingerprint -> register -> extract ->
audit -> publish. `bureau-stats run` calls `ingest`; the Prefect flows wrap the same steps as
tasks (each step takes and returns plain values, and none keeps state between calls).

One bad file never stops the others: every per-file failure becomes that file's outcome.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec
from sqlalchemy import Engine, select

from bureau_stats.heap import release_freed_memory
from bureau_stats.outcome import FileOutcome
from bureau_stats.read_ahead import ReadAhead
from connectors.batch import ExtractedBatch, LandingFile, no_rejects
from connectors.canonical import empty_table
from connectors.sources import SOURCES
from connectors.spool import spooling
from warehouse.checks import ytd_decreases
from warehouse.delivery_warnings import record_warnings
from warehouse.engine import open_warehouse
from warehouse.publish import (
    BatchRecord,
    Delivery,
    PublishResult,
    SourceLease,
    SourceLocked,
    acquire_source_locks,
    default_holder,
    needs_audit,
    order_deliveries,
    publish_batch,
    quarantine_batch,
    register_deliveries,
    run_audit,
)
from warehouse.schema import batch as batch_table

if TYPE_CHECKING:
    from bureau_stats.settings import Settings
    from expectations.audit import AuditOutcome

log = logging.getLogger(__name__)

HASH_CHUNK = 1 << 20
HASH_THREADS = min(4, os.cpu_count() or 1)
OK_STATUSES = ("published", "superseded", "skipped")


@dataclass
class IgnoredEntry:
    file: str
    why: str


@dataclass
class RunSummary:
    """Per-file outcomes of one run, and the landing files that are not deliveries."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    ignored: list[IgnoredEntry] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    read_seconds: float = 0.0  # spent reading files (overlaps auditing and publishing)

    @property
    def ok(self) -> bool:
        return all(o.status in OK_STATUSES for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0: every file published or skipped; 1: some file quarantined or failed."""
        return 0 if self.ok else 1

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [asdict(o) for o in self.outcomes],
            "ignored": [asdict(i) for i in self.ignored],
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": self.finished_at.isoformat(timespec="seconds")
            if self.finished_at
            else None,
        }


# --- steps -----------------------------------------------------------------------------------


def discover_step(landing: str) -> tuple[list[LandingFile], list[IgnoredEntry]]:
    """Deliveries in the landing area and the files ignored (with why)."""
    from connectors.landing import discover

    files, ignored = discover(landing)
    entries = [
        IgnoredEntry(getattr(i, "relative", str(i)), getattr(i, "why", "not a delivery"))
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
    todo: dict[str, list[tuple[Delivery, BatchRecord]]],
) -> dict[str, list[tuple[Delivery, BatchRecord]]]:
    """The sources with the most bytes to read go first (each keeps its delivery order).

    Both processes' heaps grow by fragmentation from file to file and hardly shrink back;
    the biggest files, read and published while the heaps are fresh, then set a run's peak
    (a --scale 100 year: 884-908 MiB against 976-1,039 in discovery order).
    """
    return dict(sorted(todo.items(), key=lambda kv: -sum(d.size for d, _ in kv[1])))


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
    return ExtractedBatch(
        file=file,
        sha256=record.sha256,
        accepted=empty_table(SOURCES[file.source]),
        rejects=no_rejects(),
        rows_read=0,
        rows_duplicate=0,
        verdict="quarantine",
        reason=reason,
        detail=detail,
    )


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


def _skipped(delivery: Delivery, record: BatchRecord) -> FileOutcome:
    return FileOutcome(
        file=delivery.file.relative,
        source=delivery.source,
        status="skipped",
        sha256=record.sha256,
        delivery_order=record.delivery_order,
        detail=f"content already delivered as {record.file}"
        if record.file != delivery.file.relative
        else None,
    )


def _finished(outcome: FileOutcome) -> Future[FileOutcome | None]:
    future: Future[FileOutcome | None] = Future()
    future.set_result(outcome)
    return future


def _release(lease: SourceLease) -> None:
    """Runs on the publisher after the source's last file. `release()` logs a failure itself
    and never raises; None tells `harvest` this is no file's outcome."""
    lease.release()


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


def ingest(
    settings: Settings,
    landing: str | None = None,
    *,
    engine: Engine | None = None,
    build_docs: bool = False,
    flow_run_id: str | None = None,
    lock_timeout: float | None = 1800.0,
    on_progress: Callable[[int, int, FileOutcome | None], None] | None = None,
) -> RunSummary:
    """One run over the landing area: every new delivery published or quarantined.

    Sources leased by someone else (a backfill) are waited for up to `lock_timeout` seconds;
    after that their files are reported `failed` and stay pending for the next run.
    """
    pii_key = settings.pii_key_bytes()  # refuse to start without it (exit 2 in the CLI)
    threshold = Decimal(settings.reject_threshold)
    data_docs_dir = settings.resolved_data_docs_dir()
    root = str(landing or settings.landing)
    own_engine = engine is None
    engine = engine or open_warehouse(settings.resolved_warehouse_url())
    summary = RunSummary()
    try:
        with spooling(settings.resolved_spool_dir()) as spool_dir:
            files, summary.ignored = discover_step(root)
            for entry in summary.ignored:
                log.info("ignored %s: %s", entry.file, entry.why)
            deliveries: list[Delivery] = []
            for f, hashed in zip(files, fingerprint_all(files), strict=True):
                if isinstance(hashed, OSError):
                    log.error("%s: cannot read (%s)", f.relative, type(hashed).__name__)
                    summary.outcomes.append(FileOutcome.unreadable(f, hashed))
                else:
                    deliveries.append(hashed)
            planned = register_step(engine, deliveries, flow_run_id)
            pending = sum(record.action != "skipped" for _, record in planned)
            done = 0
            if on_progress is not None:
                on_progress(0, pending, None)
            todo: dict[str, list[tuple[Delivery, BatchRecord]]] = {}
            for delivery, record in planned:
                if record.action == "skipped":
                    summary.outcomes.append(_skipped(delivery, record))
                else:
                    todo.setdefault(delivery.source, []).append((delivery, record))
            todo = largest_sources_first(todo)
            holder = default_holder(flow_run_id)
            order = [item for items in todo.values() for item in items]
            reader = ReadAhead(
                order,
                pii_key=pii_key,
                threshold=threshold,
                mode=settings.read_ahead,
                spool_dir=spool_dir,
            )
            with (
                reader,
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish") as publisher,
            ):
                in_flight: deque[Future[FileOutcome | None]] = deque()

                def harvest(block: bool) -> None:
                    """Report finished publishes in order; with `block`, wait for every one (so at
                    most one file is published while the next is extracted: two in memory)."""
                    nonlocal done
                    while in_flight and (block or in_flight[0].done()):
                        outcome = in_flight.popleft().result()
                        if outcome is None:  # a lease released
                            continue
                        summary.outcomes.append(outcome)
                        done += 1
                        if on_progress is not None:
                            on_progress(done, pending, outcome)

                for source, items in todo.items():
                    try:
                        lease = acquire_source_locks(
                            engine, [source], holder, wait=True, timeout=lock_timeout
                        )
                    except SourceLocked as exc:  # a backfill (or a stuck run) keeps the source
                        log.error("%s", exc)
                        summary.outcomes.extend(
                            FileOutcome.failed(d.file, r, str(exc)) for d, r in items
                        )
                        reader.skip(len(items))
                        continue
                    except Exception as exc:  # the database itself (down, disk full): next run
                        log.error(
                            "%s: cannot take the source lease (%s)", source, type(exc).__name__
                        )
                        summary.outcomes.extend(
                            FileOutcome.failed(d.file, r, f"lease error ({type(exc).__name__})")
                            for d, r in items
                        )
                        reader.skip(len(items))
                        continue
                    try:
                        for _ in items:
                            # Read and audit this file while the previous one is published (the
                            # audit is Python-bound like the reader: it stays on this thread).
                            started_at = datetime.now(UTC)
                            t0 = time.perf_counter()
                            _, record, extracted = reader.take()
                            if isinstance(extracted, FileOutcome):
                                harvest(block=True)
                                in_flight.append(_finished(extracted))
                                continue
                            audited = audit_delivery(
                                extracted, threshold=threshold, data_docs_dir=data_docs_dir
                            )
                            release_freed_memory()
                            harvest(block=True)
                            in_flight.append(
                                publisher.submit(
                                    publish_delivery,
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
                            )
                            del extracted
                    finally:
                        in_flight.append(publisher.submit(_release, lease))
                    harvest(block=False)
                harvest(block=True)
            summary.read_seconds = reader.seconds
            final_statuses(engine, summary.outcomes)
            if build_docs and any(
                o.status in ("published", "superseded", "quarantined") for o in summary.outcomes
            ):
                try:
                    from expectations.audit import build_data_docs

                    build_data_docs(data_docs_dir)
                except Exception as exc:  # Data Docs are a convenience, never a reason to fail
                    log.warning("Data Docs not built (%s)", type(exc).__name__)
    finally:
        if own_engine:
            engine.dispose()
    summary.finished_at = datetime.now(UTC)
    # Outcomes in the order the files were delivered (skipped ones by their original order).
    summary.outcomes.sort(key=lambda o: (o.delivery_order is None, o.delivery_order or 0, o.file))
    return summary
