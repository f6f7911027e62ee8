"""Tasks over delivered files: survey, plan, register, process one file, final statuses.

Thin wrappers over `bureau_stats.pipeline` (discover, fingerprint, extract -> audit -> publish)
and `warehouse.ledger` (ledger registration). What they add is what Prefect is for: task names
that say which file, retries with backoff on transient errors only, timeouts, and a persisted
result per file so that a retried flow run does not redo the files it already finished.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from prefect import task
from prefect.cache_policies import DEFAULT
from prefect.context import TaskRunContext

from bureau_stats.outcome import REJECTS_SAMPLE, FileOutcome, Ignored
from tasks.context import settings_for, warehouse
from tasks.plan import (
    BackfillPlan,
    Delivered,
    PlannedFile,
    Present,
    build_backfill_plan,
    build_nightly_plan,
    delivered_from_row,
    intersects,
)
from tasks.retry import (
    FILE_TIMEOUT_SECONDS,
    RETRIES,
    RETRY_DELAYS,
    RETRY_JITTER,
    quiet_soft_timeout_notice,
    retry_on_transient,
)
from tasks.run_logs import forward_project_logs

quiet_soft_timeout_notice()

# A retried flow run (same flow run id) reads these back instead of recomputing them, so it
# executes the very plan of its first attempt: the default cache policy keys on the inputs,
# the task's source and the flow run id.
_SAME_RUN: dict[str, Any] = dict(persist_result=True, cache_policy=DEFAULT)

_ROBUST: dict[str, Any] = dict(
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_on_transient,
    timeout_seconds=FILE_TIMEOUT_SECONDS,
)


class TransientFileError(OSError):
    """The pipeline could not read or publish a file for a reason a retry can cure."""


@dataclass
class Survey:
    """The landing area and the ledger, as one run sees them when it starts."""

    present: list[Present]
    ledger: list[Delivered]
    ignored: list[Ignored] = field(default_factory=list)
    unreadable: list[FileOutcome] = field(default_factory=list)  # could not even be hashed

    @property
    def files_seen(self) -> int:
        return len(self.present) + len(self.unreadable)


def read_ledger(
    settings: Any, *, start: date | None = None, end: date | None = None
) -> list[Delivered]:
    """Ledger entries (pending ones included), optionally those intersecting [start, end]."""
    from sqlalchemy import select

    from warehouse.schema import batch

    query = select(
        batch.c.id,
        batch.c.source,
        batch.c.file,
        batch.c.sha256,
        batch.c.period_start,
        batch.c.period_end,
        batch.c.version,
        batch.c.delivery_order,
        batch.c.status,
    ).order_by(batch.c.delivery_order)
    if start is not None and end is not None:
        query = query.where(batch.c.period_start <= end, batch.c.period_end >= start)
    with warehouse(settings).connect() as conn:
        return [delivered_from_row(dict(r)) for r in conn.execute(query).mappings()]


@task(
    name="survey-landing",
    task_run_name="survey the landing area and the ledger",
    **_ROBUST,
    **_SAME_RUN,
)
def survey_landing(
    overrides: dict[str, str],
    start: date | None = None,
    end: date | None = None,
    sources: list[str] | None = None,
) -> Survey:
    """Every delivery in the landing area with its content hash, and the ledger.

    Limited to the sources and the period range when given (a backfill hashes only what it
    may touch). Reads only: a dry run calls this too.
    """
    from bureau_stats.pipeline import discover_step, fingerprint_all

    settings = settings_for(overrides)
    files, ignored = discover_step(str(settings.landing))
    wanted = set(sources or ())
    chosen = [
        f
        for f in files
        if (not wanted or f.source in wanted)
        and (start is None or end is None or intersects(start, end, f.period_start, f.period_end))
    ]
    present, unreadable = [], []
    for f, hashed in zip(chosen, fingerprint_all(chosen), strict=True):
        if isinstance(hashed, OSError):
            unreadable.append(FileOutcome.unreadable(f, hashed, action="publish"))
        else:
            present.append(Present(file=f, sha256=hashed.sha256, size=hashed.size))
    return Survey(
        present=present,
        ledger=read_ledger(settings, start=start, end=end),
        ignored=[Ignored(i.file, i.why) for i in ignored],
        unreadable=unreadable,
    )


@task(name="plan-nightly", task_run_name="plan the nightly run", **_SAME_RUN)
def plan_nightly(survey: Survey) -> BackfillPlan:
    """New contents in the landing area, in delivery order per source."""
    return build_nightly_plan(survey.ledger, survey.present)


@task(name="plan-backfill", task_run_name="plan the backfill {start}..{end}", **_SAME_RUN)
def plan_backfill(
    survey: Survey,
    start: date,
    end: date,
    sources: list[str] | None = None,
    force: bool = False,
) -> BackfillPlan:
    """Every delivery intersecting the range, in original delivery order, with its action."""
    return build_backfill_plan(
        survey.ledger, survey.present, start=start, end=end, sources=sources, force=force
    )


@task(name="register-deliveries", task_run_name="register new deliveries", **_ROBUST, **_SAME_RUN)
def register_plan(
    plan: BackfillPlan, overrides: dict[str, str], run_id: str | None
) -> BackfillPlan:
    """Ledger first: new contents get their delivery order (rule 2) before any is read."""
    from bureau_stats.pipeline import register_step
    from warehouse.ledger import Delivery

    todo = [
        Delivery(file=f.landing, sha256=f.sha256)
        for f in plan.to_process
        if f.action == "publish" and f.landing is not None
    ]
    if not todo:
        return plan
    pairs = register_step(warehouse(settings_for(overrides)), todo, run_id)
    return plan.registered({(r.source, r.sha256): (r.id, r.delivery_order) for _, r in pairs})


def _batch_record(engine: Any, batch_id: int) -> Any:
    """The ledger row of a registered delivery as `warehouse.ledger.BatchRecord`."""
    from warehouse.ledger import load_record

    return load_record(engine, batch_id, "resumed")


_FIRST_IMPORT = threading.Lock()


def import_file_pipeline() -> None:
    """Import the per-file stack (pipeline, audit, Great Expectations) one thread at a time.

    Task threads, or a Dask worker's own threads, importing the same packages for the first
    time at once can be handed a module another thread has only half initialised: an
    ImportError that has nothing to do with the file."""
    with _FIRST_IMPORT:
        import bureau_stats.pipeline  # noqa: F401
        from expectations.audit import import_great_expectations

        import_great_expectations()


@dataclass
class Handoff:
    """A file as the run's reader process already read it, for its `process-file` task.

    It stays in the flow's process (tasks get its key): a task on another process (Dask), or
    a retried attempt, finds nothing here and reads the file itself. `before` is the task of
    the previous file: this one publishes after it, so the run publishes in its order.
    """

    read: Any  # ExtractedBatch, or None when the task must read the file itself
    before: Any = None  # PrefectFuture of the previous file's task
    audited: threading.Event = field(default_factory=threading.Event)

    def take(self) -> Any:
        read, self.read = self.read, None
        return read

    def discard(self) -> None:
        """Spooled rows nobody took (the task's result came from the cache) are removed."""
        read = self.take()
        if read is not None:
            read.discard()
        self.audited.set()


HANDOFFS: dict[str, Handoff] = {}


def _file_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Same flow run, same content, same action: the persisted outcome is reused on retry."""
    planned: PlannedFile = parameters["planned"]
    run_id = str(context.task_run.flow_run_id)
    key = f"process-file|{run_id}|{planned.source}|{planned.sha256}|{planned.action}"
    return hashlib.sha256(key.encode()).hexdigest()


@task(
    name="process-file",
    task_run_name="{planned.action} {planned.file}",
    persist_result=True,
    cache_key_fn=_file_cache_key,
    **_ROBUST,
)
def process_file(
    planned: PlannedFile, overrides: dict[str, str], holder: str, handoff: str | None = None
) -> FileOutcome:
    """Audit and publish (or quarantine) one registered delivery, read by the run's reader
    process (`handoff`) or, without one, here.

    A quarantined file is a normal outcome; a read or database error makes the task fail so
    Prefect retries it (the ledger row stays `pending`, so nothing is half-done meanwhile).
    """
    forward_project_logs()  # a Dask worker is another process
    import_file_pipeline()
    from bureau_stats.pipeline import audit_delivery, extract_delivery, publish_delivery
    from connectors.spool import spooling
    from warehouse.ledger import Delivery, reopen_delivery

    if planned.landing is None or planned.batch_id is None:
        raise ValueError(f"{planned.file}: not registered, or no content to process")
    shared = HANDOFFS.get(handoff) if handoff else None
    started_at, t0 = datetime.now(UTC), time.perf_counter()
    settings = settings_for(overrides)
    engine = warehouse(settings)
    record = _batch_record(engine, planned.batch_id)
    try:
        with spooling(settings.resolved_spool_dir()) as spool_dir:
            read = shared.take() if shared is not None else None
            if read is None:
                read = extract_delivery(
                    Delivery(file=planned.landing, sha256=planned.sha256),
                    record,
                    pii_key=settings.pii_key_bytes(),
                    threshold=settings.reject_threshold,
                    spool_dir=spool_dir,
                )
            if isinstance(read, FileOutcome):
                out = read
            else:
                audited = audit_delivery(
                    read,
                    threshold=settings.reject_threshold,
                    data_docs_dir=settings.resolved_data_docs_dir(),
                )
                if shared is not None:
                    shared.audited.set()
                    if shared.before is not None:
                        shared.before.wait()
                if planned.action in ("republish", "revalidate"):
                    reopen_delivery(engine, planned.batch_id)
                out = publish_delivery(
                    engine,
                    read,
                    record,
                    audited,
                    threshold=settings.reject_threshold,
                    holder=holder,
                    flow_run_id=holder.split("@", 1)[0] if "@" in holder else None,
                    started_at=started_at,
                    t0=t0,
                )
    finally:
        if shared is not None:
            shared.audited.set()
    if out.status == "failed":
        raise TransientFileError(f"{planned.file}: {out.detail}")
    out.action = planned.action
    if out.rows_rejected:
        from warehouse.status import first_rejects

        out.rejects = first_rejects(engine, planned.batch_id, REJECTS_SAMPLE)
    return out


@task(name="final-statuses", task_run_name="final ledger statuses")
def final_statuses(outcomes: list[FileOutcome], overrides: dict[str, str]) -> list[FileOutcome]:
    """A file published early in the run may be superseded by a later one of the same run."""
    from bureau_stats.pipeline import final_statuses

    final_statuses(warehouse(settings_for(overrides)), outcomes)
    return outcomes
