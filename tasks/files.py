"""Tasks over delivered files: survey the landing area, and process one file.

Thin wrappers: discovery is `connectors.landing`, the per-file work (extract, audit, publish
with write-audit-publish, ledger) is `bureau_stats.pipeline`. What the wrappers add is what
Prefect is for: task names that say which file, retries on transient errors only, timeouts,
and a persisted result per file so that a retried flow run does not redo published files.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prefect import task
from prefect.context import TaskRunContext

from connectors.batch import LandingFile
from tasks.context import settings_for, warehouse
from tasks.outcome import REJECTS_SAMPLE, FileOutcome
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

quiet_soft_timeout_notice()

_HASH_CHUNK = 1 << 20


@dataclass
class Survey:
    """The landing area and the ledger, as one run sees them when it starts."""

    present: list[Present]
    ledger: list[Delivered]
    ignored: list[str] = field(default_factory=list)  # "relative path: why"

    @property
    def files_seen(self) -> int:
        return len(self.present)


def content_hash(file: LandingFile) -> str:
    """sha256 of a delivery's bytes (the ledger's identity of a delivery, rule 3)."""
    from connectors.landing import open_file

    digest = hashlib.sha256()
    with open_file(file) as fp:
        while chunk := fp.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_ledger(settings: Any, *, start: date | None = None, end: date | None = None) -> list[Delivered]:
    """Ledger entries (optionally only those whose period intersects [start, end])."""
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
        return [delivered_from_row(r) for r in conn.execute(query).mappings()]


@task(
    name="survey-landing",
    task_run_name="survey the landing area and the ledger",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_on_transient,
    timeout_seconds=FILE_TIMEOUT_SECONDS,
)
def survey_landing(
    overrides: dict[str, str],
    start: date | None = None,
    end: date | None = None,
    sources: list[str] | None = None,
) -> Survey:
    """Every delivery in the landing area (hashed) and the ledger, limited to a range if given."""
    from connectors.landing import discover

    settings = settings_for(overrides)
    files, ignored = discover(settings.landing)
    wanted = set(sources or ())
    present = [
        Present(file=f, sha256=content_hash(f))
        for f in files
        if (not wanted or f.source in wanted)
        and (start is None or end is None or intersects(start, end, f.period_start, f.period_end))
    ]
    return Survey(
        present=present,
        ledger=read_ledger(settings, start=start, end=end),
        ignored=[f"{i.relative}: {i.why}" for i in ignored],
    )


@task(name="plan-nightly", task_run_name="plan the nightly run")
def plan_nightly(survey: Survey) -> BackfillPlan:
    """New contents in the landing area, in delivery order per source."""
    return build_nightly_plan(survey.ledger, survey.present)


@task(name="plan-backfill", task_run_name="plan the backfill {start}..{end}")
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


def _file_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Same flow run, same content, same action: the persisted outcome is reused on retry."""
    planned: PlannedFile = parameters["planned"]
    run_id = str(context.task_run.flow_run_id)
    return hashlib.sha256(
        f"{run_id}|{planned.source}|{planned.sha256}|{planned.action}".encode()
    ).hexdigest()


def _rejects_sample(rejects: Any) -> list[dict[str, Any]]:
    """The first rejected rows as plain dicts (already masked and hashed by the connector)."""
    if rejects is None or len(rejects) == 0:
        return []
    head = rejects.head(REJECTS_SAMPLE)
    return [
        {
            "line": int(r["line"]),
            "reason": str(r["reason"]),
            "column": None if r["column"] is None else str(r["column"]),
            "raw": r["raw"],
        }
        for r in head.to_dict("records")
    ]


def _batch_record(engine: Any, batch_id: int) -> Any:
    """The ledger row of a registered delivery as `warehouse.publish.BatchRecord`."""
    from datetime import UTC

    from sqlalchemy import select

    from warehouse.publish import BatchRecord
    from warehouse.schema import batch

    with engine.connect() as conn:
        row = conn.execute(select(batch).where(batch.c.id == batch_id)).one()
    seen = row.first_seen_at
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
        first_seen_at=seen.replace(tzinfo=UTC) if seen.tzinfo is None else seen,
        action="resumed",
    )


def _reopen(engine: Any, batch_id: int) -> None:
    """Make a finished delivery processable again, keeping its delivery order (force)."""
    from sqlalchemy import update

    from warehouse.engine import writer
    from warehouse.schema import batch

    with writer(engine) as conn:
        conn.execute(update(batch).where(batch.c.id == batch_id).values(status="pending"))


class ContentChanged(RuntimeError):
    """The file's content changed between planning and processing: it is a new delivery."""


@task(
    name="register-deliveries",
    task_run_name="register new deliveries",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_on_transient,
)
def register_plan(plan: BackfillPlan, overrides: dict[str, str], run_id: str | None) -> BackfillPlan:
    """Ledger first: new contents get their delivery order (rule 2) before any is read."""
    from warehouse.publish import Delivery, order_deliveries, register_deliveries

    todo = [
        Delivery(file=f.landing, sha256=f.sha256)
        for f in plan.to_process
        if f.action == "publish" and f.landing is not None
    ]
    if not todo:
        return plan
    records = register_deliveries(
        warehouse(settings_for(overrides)), order_deliveries(todo), flow_run_id=run_id
    )
    return plan.registered({(r.source, r.sha256): (r.id, r.delivery_order) for r in records})


@task(
    name="process-file",
    task_run_name="{planned.action} {planned.file}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_on_transient,
    timeout_seconds=FILE_TIMEOUT_SECONDS,
    persist_result=True,
    cache_key_fn=_file_cache_key,
)
def process_file(planned: PlannedFile, overrides: dict[str, str], holder: str) -> FileOutcome:
    """Extract, audit and publish (or quarantine) one registered delivery."""
    from prefect import get_run_logger

    from connectors.extract import extract_file
    from warehouse.publish import write_audit_publish

    if planned.landing is None or planned.batch_id is None:
        raise ValueError(f"{planned.file}: not registered, or no content to process")
    settings = settings_for(overrides)
    engine = warehouse(settings)
    started = time.monotonic()
    extracted = extract_file(
        planned.landing,
        pii_key=settings.pii_key_bytes(),
        threshold=settings.reject_threshold,
    )
    if extracted.sha256 != planned.sha256:
        raise ContentChanged(
            f"{planned.file} changed since the run was planned; the next run takes it as a "
            "new delivery"
        )
    if planned.action in ("republish", "revalidate"):
        _reopen(engine, planned.batch_id)
    wap = write_audit_publish(
        engine,
        extracted,
        _batch_record(engine, planned.batch_id),
        data_docs_dir=settings.resolved_data_docs_dir(),
        threshold=settings.reject_threshold,
        holder=holder,
        flow_run_id=holder.split("@", 1)[0],
    )
    result = wap.result
    outcome = FileOutcome(
        source=planned.source,
        file=planned.file,
        action=planned.action,
        status="published" if result.status in ("published", "superseded") else result.status,
        reason=result.reason,
        detail=result.detail,
        rows_read=result.rows_read,
        rows_accepted=result.rows_accepted,
        rows_rejected=result.rows_rejected,
        rows_duplicate=result.rows_duplicate,
        delivery_order=result.delivery_order,
        seconds=round(time.monotonic() - started, 3),
        rejects=_rejects_sample(extracted.rejects),
        warnings=list(extracted.warnings),
    )
    get_run_logger().info(
        "%s %s: %s (read %d, accepted %d, rejected %d, duplicate %d)%s",
        planned.action,
        planned.file,
        outcome.status,
        outcome.rows_read,
        outcome.rows_accepted,
        outcome.rows_rejected,
        outcome.rows_duplicate,
        f" - {outcome.reason}" if outcome.reason else "",
    )
    return outcome
