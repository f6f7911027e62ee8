"""What the flows share around the run model (`flows.run`): the run's settings and secrets
read once when it starts, its lease holder, and how it concludes (artifacts, final state)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bureau_stats.outcome import RunFailed, RunResult
from connectors.bureau_time import BUREAU_TZ
from flows.executors import PrefectExecutor
from flows.run import RunRequest, RunSetup, run_landing
from tasks.context import clean_overrides, run_context, settings_for, warehouse
from tasks.run_logs import forward_project_logs

if TYPE_CHECKING:
    from bureau_stats.settings import Settings


def current_year() -> int:
    """The bureau's current year (its calendar is Asia/Shanghai)."""
    return datetime.now(BUREAU_TZ).year


def run_id() -> str | None:
    from prefect.runtime import flow_run

    return str(flow_run.id) if flow_run.id else None


def run_holder() -> str:
    """Who holds this run's leases: `<flow run id>@<host>:<pid>` (the warehouse's format)."""
    from warehouse.leases import default_holder

    return default_holder(run_id())


def load_secrets(settings: Settings, *, needs_pii_key: bool = False) -> None:
    """Load the run's secrets now: the Prefect Secret blocks the settings name (fresh, so a
    rotated secret counts from the next run on), and check the PII key when the run hashes.

    A missing or unusable block, or no PII key, fails the run here, before it touches anything,
    with a message naming the setting and the block (never a value). Tasks in this process use
    what was loaded; other processes (Dask workers) load the blocks themselves.
    """
    from prefect import get_run_logger

    logger = get_run_logger()
    for level, message in settings.resolve_secrets():
        logger.log(level, "%s", message)
    if needs_pii_key:
        from warehouse.pii_key import check_pii_key

        key = settings.pii_key_bytes()  # no key: refused before the warehouse is opened
        # One key per warehouse: another key fails the run before it touches anything. The
        # process's engine, which the run context then uses too (opened, migrated once).
        check_pii_key(warehouse(settings), key)


@contextmanager
def flow_run(
    flow: str,
    landing: str | None,
    max_parallel_sources: int | None,
    *,
    needs_pii_key: bool = True,
) -> Iterator[PrefectExecutor]:
    """The run's settings read once (its parameters as overrides), its secrets loaded, its
    lease holder: the Prefect executor of the run model, its run context set for the block."""
    forward_project_logs()  # the project's own log lines reach this run's log in the UI
    overrides = clean_overrides(landing=landing, max_parallel_sources=max_parallel_sources)
    settings = settings_for(overrides)
    load_secrets(settings, needs_pii_key=needs_pii_key)
    with run_context(settings):
        yield PrefectExecutor(RunSetup(flow, overrides, run_holder(), run_id()), settings)


def run_flow(request: RunRequest, landing: str | None, max_parallel_sources: int | None) -> Any:
    """The run model in this flow run; its result as the flow's final state."""
    with flow_run(
        request.flow, landing, max_parallel_sources, needs_pii_key=not request.dry_run
    ) as executor:
        result = run_landing(executor, request)
        if not isinstance(result, RunResult):
            return result  # a dry run's plan
        return conclude(result, executor.settings.data_docs_url)


def conclude(result: RunResult, data_docs_url: str | None = None) -> Any:
    """The flow's return value: the result, or a Failed state with the reasons as its message.

    Calling the flow then returns the RunResult, or raises RunFailed carrying it.
    """
    from prefect.states import Completed, Failed

    from tasks.operator_view import create_operator_view

    result.finished_at = datetime.now(UTC)
    # Settings.data_docs_url (BUREAU_STATS_DATA_DOCS_URL): where operators browse the Data Docs.
    create_operator_view(result, data_docs_url)
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
