"""The nightly run: new export files → validated and published → metrics → the year's report."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.common import (
    conclude,
    data_docs,
    parallel_sources,
    refresh_years,
    run_holder,
    run_id,
    run_overrides,
    source_locks,
)
from flows.execute import run_plan
from tasks.files import register_plan, plan_nightly, survey_landing
from tasks.outcome import RunResult
from tasks.progress import RunProgress
from tasks.runner import SettingsTaskRunner


@flow(
    name="nightly",
    description="Publish new export files, refresh metrics, re-render the report.",
    task_runner=SettingsTaskRunner(),
    validate_parameters=True,
)
def nightly(
    landing: str | None = None,
    max_parallel_sources: int | None = None,
    wait_for_locks: bool = True,
    refresh: bool = True,
) -> Any:
    """Discover new files, extract/validate/publish each, refresh metrics and reports.

    Files of different sources run concurrently (at most `max_parallel_sources` sources at
    once), one source's files in delivery order. A quarantined file never stops the others;
    the run ends Failed when any file was quarantined or failed, with the reasons in its
    message. Metrics and the report are refreshed for the years of the files published
    (normally the current year). Waits for a backfill holding a lock on a source it needs.
    """
    overrides = run_overrides(landing, max_parallel_sources)
    holder = run_holder()
    survey = survey_landing(overrides)
    plan = plan_nightly(survey)

    progress = RunProgress("nightly", len(plan.to_process))
    progress.start()
    with source_locks(plan.queues(), holder, overrides, wait=wait_for_locks):
        plan = register_plan(plan, overrides, run_id())
        outcomes = run_plan(
            plan,
            overrides=overrides,
            holder=holder,
            max_parallel=parallel_sources(overrides),
            progress=progress,
        )
    progress.finish()

    result = RunResult(
        flow="nightly", outcomes=outcomes, files_seen=survey.files_seen, ignored=survey.ignored
    )
    audited = any(o.status in ("published", "quarantined") for o in outcomes)
    if refresh:
        years = {y for o, f in zip(outcomes, plan.files, strict=True) if o.status == "published" for y in f.years}
        result.refreshed_years, result.reports = refresh_years(years, overrides)
    result.data_docs = data_docs(overrides, audited)
    return conclude(result)
