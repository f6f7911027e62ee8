"""Backfills an operator can trust: plan first (dry run), then execute exactly that plan."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from connectors.sources import SourceName
from flows.common import call_flow, run_flow
from flows.run import RunRequest
from flows.run_names import backfill_run_name
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
    request = RunRequest(
        flow="backfill",
        start=start,
        end=end,
        sources=tuple(sources or ()),
        force=force,
        dry_run=dry_run,
        wait=wait,
    )
    return run_flow(request, landing, max_parallel_sources)


def run_backfill(**parameters: Any) -> Any:
    """The backfill flow run in this process: a RunResult, or the plan when dry_run."""
    return call_flow(backfill, **parameters)
