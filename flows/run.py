"""The run model, written once: survey → plan → lock → register → execute → final statuses →
refresh the metrics mart and the report of the affected years → Data Docs → summary.

Nightly and backfill runs go through `run_landing` in both executors (`flows.executors`): the
in-process one (`bureau-stats run --in-process`, the demo, the benchmarks) and the Prefect one
(the deployments, `bureau-stats run --flow`, `backfill`). Every step is a task of tasks/*; the
executor decides how a step is run (a Prefect task run, or its plain function in this thread)
and how the plan's files are executed. Nothing else differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from bureau_stats.outcome import PUBLISHED_STATUSES, FileOutcome, RunResult
from flows.execute import planned_outcome
from tasks.files import final_statuses, plan_backfill, plan_nightly, register_plan, survey_landing
from tasks.lateness import late_deliveries
from tasks.locks import Leases, lock_sources, unlock_sources
from tasks.plan import BackfillPlan, PlannedFile
from tasks.refresh import analyze_loaded, build_data_docs, refresh_metrics, render_annual_report

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy import Engine

    from bureau_stats.settings import Settings


@dataclass(frozen=True)
class RunSetup:
    """What a run settles before its first step."""

    flow: str  # nightly | backfill
    overrides: dict[str, str]  # the operator's per-run settings (plain strings, no secret)
    holder: str  # who holds the run's source leases
    flow_run_id: str | None = None


@dataclass(frozen=True)
class RunRequest:
    """What the operator asked for."""

    flow: str = "nightly"
    start: date | None = None  # backfill: the period range
    end: date | None = None
    sources: tuple[str, ...] = ()
    force: bool = False
    dry_run: bool = False
    wait: bool = True  # wait for sources another run holds (a backfill refuses otherwise)
    lock_timeout: float | None = None  # then the nightly run fails that source's files
    refresh: bool = True  # metrics mart and report of the years published
    build_docs: bool = True
    formats: tuple[str, ...] | None = None  # report formats (default: all)

    @property
    def backfill(self) -> bool:
        return self.flow == "backfill"


class Progress(Protocol):
    def advance(self, outcome: FileOutcome) -> None: ...


class Executor(Protocol):
    """How a run's steps and files are executed (flows.executors)."""

    setup: RunSetup
    settings: Settings
    read_seconds: float

    def step(self, task: Any, *args: Any, **kwargs: Any) -> Any: ...

    def submit(self, task: Any, *args: Any, wait_for: Sequence[Any] = ()) -> Any:
        """`step` started beside the caller, after `wait_for`; `.result()` waits for it."""
        ...

    def show_plan(self, plan: BackfillPlan, dry_run: bool) -> None: ...

    def progress(self, total: int) -> AbstractContextManager[Progress]: ...

    def execute(self, plan: BackfillPlan, progress: Progress) -> list[FileOutcome]: ...


def run_landing(executor: Executor, request: RunRequest) -> RunResult | BackfillPlan:
    """One run; a backfill's dry run returns its plan and writes nothing."""
    setup, step = executor.setup, executor.step
    sources = list(request.sources) or None
    survey = step(survey_landing, setup.overrides, request.start, request.end, sources)
    if request.backfill:
        assert request.start is not None and request.end is not None
        plan = step(plan_backfill, survey, request.start, request.end, sources, request.force)
        executor.show_plan(plan, request.dry_run)
        if request.dry_run:
            return plan  # type: ignore[no-any-return]
    else:
        plan = step(plan_nightly, survey)
    outcomes = execute_plan(executor, plan, request)
    result = RunResult(
        flow=request.flow,
        outcomes=[*outcomes, *survey.unreadable],
        files_seen=len(plan.files) + len(survey.unreadable)
        if request.backfill
        else survey.files_seen,
        ignored=[] if request.backfill else list(survey.ignored),
        read_seconds=executor.read_seconds,
    )
    if request.refresh:
        years = plan.years if request.backfill else published_years(plan, result.outcomes)
        loaded = sorted({o.source for o in result.published})
        if years and loaded:
            step(analyze_loaded, loaded, setup.overrides)
        result.refreshed_years, result.reports = refresh_years(
            executor, years, formats=request.formats
        )
    audited = bool(result.published) or bool(result.quarantined)
    result.data_docs = data_docs(executor, audited and request.build_docs)
    if not request.backfill:  # the nightly's look at what has not been delivered
        result.overdue = step(late_deliveries, setup.overrides)
    return result


def published_years(plan: BackfillPlan, outcomes: Iterable[FileOutcome]) -> list[int]:
    published = {o.file for o in outcomes if o.status in PUBLISHED_STATUSES}
    return sorted({y for f in plan.files if f.file in published for y in f.years})


def execute_plan(executor: Executor, plan: BackfillPlan, request: RunRequest) -> list[FileOutcome]:
    """Lock the plan's sources, register its new deliveries, execute its files, release the
    sources, read back the final ledger statuses; outcomes in the plan's order.

    A nightly run leases each source on its own: a source it cannot lease (held past
    `lock_timeout`, or refused by the database) fails its files, which stay for the next run.
    A backfill leases all or none. Progress starts once the sources are ours.
    """
    setup, step = executor.setup, executor.step
    wanted = sorted(plan.queues())
    leases = Leases([])
    if wanted:
        leases = step(
            lock_sources,
            wanted,
            setup.holder,
            setup.overrides,
            request.wait,
            request.lock_timeout,
            each=not request.backfill,
        )
    refused = {
        id(f): refused_outcome(f, leases.refused[f.source])
        for f in plan.files
        if f.processed and f.source in leases.refused
    }
    try:
        runnable = replace(plan, files=tuple(f for f in plan.files if id(f) not in refused))
        runnable = step(register_plan, runnable, setup.overrides, setup.flow_run_id)
        with executor.progress(len(runnable.to_process)) as progress:
            done = iter(executor.execute(runnable, progress))
    finally:
        if leases.locked:
            step(unlock_sources, leases.locked, setup.holder, setup.overrides)
    outcomes = [refused[id(f)] if id(f) in refused else next(done) for f in plan.files]
    if any(o.status in PUBLISHED_STATUSES for o in outcomes):
        outcomes = step(final_statuses, outcomes, setup.overrides)
    return outcomes


def refused_outcome(f: PlannedFile, why: str) -> FileOutcome:
    """A file of a source the run could not lease: it stays for the next run."""
    return planned_outcome(f, "failed", detail=why)


def refresh_years(
    executor: Executor,
    years: Iterable[int],
    as_of: Any = None,
    formats: Sequence[str] | None = None,
) -> tuple[list[int], list[str]]:
    """The metrics mart, then the report from it, of each year; (years, report files).

    On PostgreSQL the years are refreshed at once, each on a connection of its own: the
    refresh is bound by one backend's queries (the years of --scale 30 of the workbook-heavy
    year: 3.7-3.9 s at once against 4.9-5.2 s one after the other, bench/NOTES.md). SQLite
    has one writer, so there the years go one after the other.
    """
    overrides = executor.setup.overrides
    chosen = sorted(set(years))
    shown = list(formats) if formats else None
    if len(chosen) < 2 or not _refresh_at_once(executor.settings):
        reports: list[str] = []
        for year in chosen:
            executor.step(refresh_metrics, year, overrides, as_of)
            reports += executor.step(render_annual_report, year, overrides, as_of, shown)
        return chosen, reports
    running = []
    for year in chosen:
        mart = executor.submit(refresh_metrics, year, overrides, as_of)
        report = executor.submit(
            render_annual_report, year, overrides, as_of, shown, wait_for=[mart]
        )
        running.append((mart, report))
    written: list[str] = []
    failures: list[Exception] = []
    for mart, report in running:  # every year ends before the first failure is raised
        for future in (mart, report):
            try:
                done = future.result()
            except Exception as exc:  # a report after a failed mart fails too: the mart's first
                failures.append(exc)
            else:
                written += done if future is report else []
    if failures:
        raise failures[0]
    return chosen, written


def _refresh_at_once(settings: Settings) -> bool:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_warehouse_url()).get_backend_name() == "postgresql"


def data_docs(executor: Executor, audited: bool) -> str | None:
    """Rebuild the Data Docs when this run audited a file, else point at the existing site."""
    if audited:
        return executor.step(build_data_docs, executor.setup.overrides)  # type: ignore[no-any-return]
    index = executor.settings.resolved_data_docs_dir() / "index.html"
    return str(index) if index.exists() else None


def ingest(
    settings: Settings,
    landing: str | None = None,
    *,
    engine: Engine | None = None,
    build_docs: bool = False,
    refresh: bool = False,
    flow_run_id: str | None = None,
    lock_timeout: float | None = None,
    on_progress: Callable[[int, int, FileOutcome | None], None] | None = None,
    formats: Sequence[str] | None = None,
) -> RunResult:
    """One nightly run over the landing area in this process (the in-process executor of the
    run model, `flows.run`): every new delivery published or quarantined; with `refresh`, the
    metrics mart and the report of the years published, as the nightly flow does.

    Sources leased by someone else (a backfill) are waited for up to `lock_timeout` seconds
    (default: BUREAU_STATS_LOCK_WAIT_SECONDS);
    after that their files are reported `failed` and stay pending for the next run.
    """
    from flows.executors import InProcessExecutor
    from tasks.context import run_context
    from warehouse.pii_key import check_pii_key

    settings.pii_key_bytes()  # refuse to start without it (exit 2 in the CLI)
    if landing is not None:
        settings = settings.model_copy(update={"landing": landing})
    request = RunRequest(
        lock_timeout=lock_timeout,
        refresh=refresh,
        build_docs=build_docs,
        formats=tuple(formats) if formats else None,
    )
    with run_context(settings, engine) as context:
        # One key per warehouse: another key refuses the run before it touches anything.
        check_pii_key(context.engine, settings.pii_key_bytes())
        executor = InProcessExecutor(settings, flow_run_id=flow_run_id, on_progress=on_progress)
        result = run_landing(executor, request)
    assert isinstance(result, RunResult)
    return result
