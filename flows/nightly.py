"""The nightly run: new export files → validated and published → metrics → the year's report."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.common import call_flow, conclude, data_docs, execute_plan, refresh_years, start_run
from flows.run_names import nightly_run_name
from tasks.files import plan_nightly, survey_landing
from tasks.lateness import late_deliveries
from tasks.outcome import RunResult
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

    Files of different sources run concurrently (at most `max_parallel_sources` sources at
    once), one source's files in delivery order. A quarantined file never stops the others;
    the run ends Failed when any file was quarantined or failed, with the reasons in its
    message. Metrics and the report are refreshed for the years of the files published
    (normally the current year), and the Data Docs rebuilt (unless `build_docs` is false).
    Waits for a backfill holding a lock on a source it needs.
    """
    run = start_run("nightly", landing, max_parallel_sources)
    survey = survey_landing(run.overrides)
    plan = plan_nightly(survey)
    outcomes = execute_plan(run, plan, wait=wait_for_locks)

    result = RunResult(
        flow="nightly",
        outcomes=[*outcomes, *survey.unreadable],
        files_seen=survey.files_seen,
        ignored=survey.ignored,
    )
    published = {o.file for o in result.published}
    if refresh:
        years = {y for f in plan.files if f.file in published for y in f.years}
        result.refreshed_years, result.reports = refresh_years(years, run.overrides)
    audited = bool(published) or bool(result.quarantined)
    result.data_docs = data_docs(run.overrides, audited and build_docs)
    result.overdue = late_deliveries(run.overrides)
    return conclude(result)


def run_nightly(**parameters: Any) -> RunResult:
    """The nightly flow run in this process (what `bureau-stats run` calls).

    Returns the RunResult whether the run completed or ended Failed (quarantined files); the
    result has the interface of `bureau_stats.pipeline.RunSummary`.
    """
    result: RunResult = call_flow(nightly, **parameters)
    return result
