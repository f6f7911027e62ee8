"""Backfills an operator can trust: plan first (dry run), then execute exactly that plan."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from connectors.sources import SourceName
from flows.common import call_flow, conclude, data_docs, execute_plan, refresh_years, start_run
from flows.run_names import backfill_run_name
from tasks.files import plan_backfill, survey_landing
from tasks.outcome import RunResult
from tasks.plan import render_plan
from tasks.runner import SettingsTaskRunner


@flow(
    name="backfill",
    flow_run_name=backfill_run_name,
    description="Re-process delivered files of a date range in their original delivery order.",
    task_runner=SettingsTaskRunner(),
    validate_parameters=True,
)
def backfill(
    start: date,
    end: date,
    sources: list[SourceName] | None = None,
    force: bool = False,
    dry_run: bool = False,
    wait: bool = False,
    max_parallel_sources: int | None = None,
    landing: str | None = None,
) -> Any:
    """Re-process the delivered files whose period intersects [start, end].

    Files keep their original delivery order (an older file never overrides a newer one).
    Without `force`, files whose content is already in the ledger are skipped and only new
    contents are published; with `force`, every delivered file is re-validated under the
    current rules and republished in its original order. Metrics and reports of the affected
    years are refreshed afterwards. `dry_run` builds and returns the plan, writing nothing.
    Refuses to start while another run holds the lock of one of its sources, unless `wait`.
    """
    from prefect import get_run_logger
    from prefect.artifacts import create_markdown_artifact

    run = start_run("backfill", landing, max_parallel_sources, needs_pii_key=not dry_run)
    survey = survey_landing(run.overrides, start, end, sources)
    plan = plan_backfill(survey, start, end, sources, force)
    shown = render_plan(plan)
    create_markdown_artifact(
        f"# Backfill plan{' (dry run)' if dry_run else ''}\n\n```\n{shown}\n```",
        key="backfill-plan",
        description=f"Backfill {start}..{end}: {len(plan.to_process)} file(s) to process",
    )
    get_run_logger().info("%s", shown)
    if dry_run:
        return plan
    outcomes = execute_plan(run, plan, wait=wait)

    result = RunResult(
        flow="backfill",
        outcomes=[*outcomes, *survey.unreadable],
        files_seen=len(plan.files) + len(survey.unreadable),
    )
    result.refreshed_years, result.reports = refresh_years(plan.years, run.overrides)
    audited = bool(result.published) or bool(result.quarantined)
    result.data_docs = data_docs(run.overrides, audited)
    return conclude(result)


def run_backfill(**parameters: Any) -> Any:
    """The backfill flow run in this process: a RunResult, or the plan when dry_run."""
    return call_flow(backfill, **parameters)
