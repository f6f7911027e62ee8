"""The nightly run: new export files → validated and published → metrics → the year's report."""

from __future__ import annotations

from typing import Any

from prefect import flow

from bureau_stats.outcome import RunResult
from flows.common import call_flow, run_flow
from flows.run import RunRequest
from flows.run_names import nightly_run_name
from tasks.runner import SettingsTaskRunner


@flow(
    name="nightly",
    flow_run_name=nightly_run_name,
    description="Publish new export files, refresh metrics, re-render the report.",
    task_runner=SettingsTaskRunner(),
    validate_parameters=True,
)
def nightly(
    landing: str | None = None,
    max_parallel_sources: int | None = None,
    wait_for_locks: bool = True,
    refresh: bool = True,
    build_docs: bool = True,
) -> Any:
    """Discover new files, extract/validate/publish each, refresh metrics and reports.

    Each file is a task, read ahead by a reader process and published in delivery order
    (under the Dask task runner, at most `max_parallel_sources` sources at once). A quarantined file never stops the others;
    the run ends Failed when any file was quarantined or failed, with the reasons in its
    message. Metrics and the report are refreshed for the years of the files published
    (normally the current year), and the Data Docs rebuilt (unless `build_docs` is false).
    Waits for a backfill holding a lock on a source it needs.
    """
    request = RunRequest(
        flow="nightly", wait=wait_for_locks, refresh=refresh, build_docs=build_docs
    )
    return run_flow(request, landing, max_parallel_sources)


def run_nightly(**parameters: Any) -> RunResult:
    """The nightly flow run in this process (what `bureau-stats run` calls).

    Returns the RunResult whether the run completed or ended Failed (quarantined files); the
    in-process run returns the same type.
    """
    result: RunResult = call_flow(nightly, **parameters)
    return result
