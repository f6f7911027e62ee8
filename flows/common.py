"""Steps the flows share: settings and secrets of the run, locking, executing a plan,
refreshing, concluding. The flows themselves only compose these and the tasks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flows.execute import run_plan
from tasks.context import clean_overrides, settings_for
from tasks.files import final_statuses, register_plan
from tasks.locks import lock_sources, unlock_sources
from tasks.outcome import PUBLISHED_STATUSES, FileOutcome, RunFailed, RunResult
from tasks.plan import BackfillPlan
from tasks.progress import RunProgress
from tasks.refresh import build_data_docs, refresh_metrics, render_annual_report
from tasks.run_logs import forward_project_logs

BUREAU_TZ = ZoneInfo("Asia/Shanghai")


def current_year() -> int:
    """The bureau's current year (its calendar is Asia/Shanghai)."""
    return datetime.now(BUREAU_TZ).year


def run_id() -> str | None:
    from prefect.runtime import flow_run

    return str(flow_run.id) if flow_run.id else None


def run_holder() -> str:
    """Who holds this run's leases: `<flow run id>@<host>:<pid>` (the warehouse's format)."""
    from warehouse.publish import default_holder

    return default_holder(run_id())


def load_secrets(overrides: dict[str, str], *, needs_pii_key: bool = False) -> None:
    """Load the run's secrets now: the Prefect Secret blocks the settings name (fresh, so a
    rotated secret counts from the next run on), and check the PII key when the run hashes.

    A missing or unusable block, or no PII key, fails the run here, before it touches anything,
    with a message naming the setting and the block (never a value). Tasks in this process use
    what was loaded; other processes (Dask workers) load the blocks themselves.
    """
    from prefect import get_run_logger

    settings = settings_for(overrides)
    logger = get_run_logger()
    for level, message in settings.resolve_secrets():
        logger.log(level, "%s", message)
    if needs_pii_key:
        settings.pii_key_bytes()


@dataclass(frozen=True)
class RunSetup:
    """What a nightly or backfill run settles before its first task."""

    flow: str
    overrides: dict[str, str]
    holder: str  # who holds the run's source leases


def start_run(
    flow: str,
    landing: str | None,
    max_parallel_sources: int | None,
    *,
    needs_pii_key: bool = True,
) -> RunSetup:
    """The run's overrides (its parameters), its secrets loaded, its lease holder."""
    forward_project_logs()
    overrides = clean_overrides(landing=landing, max_parallel_sources=max_parallel_sources)
    load_secrets(overrides, needs_pii_key=needs_pii_key)
    return RunSetup(flow, overrides, run_holder())


def parallel_sources(overrides: dict[str, str]) -> int:
    return max(1, int(settings_for(overrides).max_parallel_sources))


@contextmanager
def source_locks(
    sources: Iterable[str], holder: str, overrides: dict[str, str], *, wait: bool
) -> Iterator[list[str]]:
    """Hold the publish locks of `sources` for the block (released even when it fails)."""
    wanted = sorted(set(sources))
    if not wanted:
        yield []
        return
    locked = lock_sources(wanted, holder, overrides, wait=wait)
    try:
        yield locked
    finally:
        unlock_sources(locked, holder, overrides)


def execute_plan(setup: RunSetup, plan: BackfillPlan, *, wait: bool) -> list[FileOutcome]:
    """Lock the plan's sources, register its new deliveries, process its files, and read back
    the final ledger statuses; outcomes in the plan's order (skipped files included).

    Progress starts once the sources are ours: a run refused by a lock shows none.
    """
    progress = RunProgress(setup.flow, len(plan.to_process))
    with source_locks(plan.queues(), setup.holder, setup.overrides, wait=wait), progress:
        plan = register_plan(plan, setup.overrides, run_id())
        outcomes = run_plan(
            plan,
            overrides=setup.overrides,
            holder=setup.holder,
            max_parallel=parallel_sources(setup.overrides),
            progress=progress,
        )
    if any(o.status in PUBLISHED_STATUSES for o in outcomes):
        outcomes = final_statuses(outcomes, setup.overrides)
    return outcomes


def refresh_years(
    years: Iterable[int], overrides: dict[str, str], as_of: Any = None
) -> tuple[list[int], list[str]]:
    """Metrics mart, then the report, of each year; returns (years, report files)."""
    done: list[int] = []
    reports: list[str] = []
    for year in sorted(set(years)):
        refresh_metrics(year, overrides, as_of)
        reports += render_annual_report(year, overrides, as_of)
        done.append(year)
    return done, reports


def data_docs(overrides: dict[str, str], audited: bool) -> str | None:
    """Rebuild the Data Docs when this run audited a file, else point at the existing site."""
    if audited:
        return build_data_docs(overrides)
    index = settings_for(overrides).resolved_data_docs_dir() / "index.html"
    return str(index) if index.exists() else None


def conclude(result: RunResult) -> Any:
    """The flow's return value: the result, or a Failed state with the reasons as its message.

    Calling the flow then returns the RunResult, or raises RunFailed carrying it.
    """
    from datetime import UTC

    from prefect.states import Completed, Failed

    from tasks.operator_view import create_operator_view

    result.finished_at = datetime.now(UTC)
    # Settings.data_docs_url (BUREAU_STATS_DATA_DOCS_URL): where operators browse the Data Docs.
    create_operator_view(result, settings_for({}).data_docs_url)
    if result.ok:
        return Completed(message=result.headline(), data=result)
    return Failed(message=result.failure_message(), data=RunFailed(result))


def call_flow(flow_fn: Any, **parameters: Any) -> Any:
    """Run a flow in this process and return its result even when the run ended Failed.

    A RunFailed result gives back its RunResult; any other failure is raised (SourcesBusy,
    configuration errors, ...).
    """
    state = flow_fn(**parameters, return_state=True)
    value = state.result(raise_on_failure=False)
    if isinstance(value, RunFailed):
        return value.result
    if isinstance(value, BaseException):
        raise value
    return value
