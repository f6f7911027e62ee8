"""Tasks after publishing: planner statistics of the loaded tables, recompute a year's metrics
mart, render a year's report."""

from __future__ import annotations

from datetime import date

from prefect import task

from tasks.context import settings_for, warehouse
from tasks.retry import (
    REFRESH_TIMEOUT_SECONDS,
    RETRIES,
    RETRY_DELAYS,
    RETRY_JITTER,
    retry_on_transient,
)

_ROBUST = dict(
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_on_transient,
    timeout_seconds=REFRESH_TIMEOUT_SECONDS,
)


# No retries: `analyze_sources` logs a database error and returns (statistics are best-effort),
# so nothing would be retried; the timeout bounds a wait for a table's lock.
@task(
    name="analyze-tables",
    task_run_name="analyze loaded tables",
    timeout_seconds=REFRESH_TIMEOUT_SECONDS,
)
def analyze_loaded(sources: list[str], overrides: dict[str, str]) -> list[str]:
    """Planner statistics of the source tables this run loaded, before the refresh queries
    them (`warehouse.statistics`); returns the tables analyzed (none on SQLite)."""
    from warehouse.statistics import analyze_sources

    return analyze_sources(warehouse(settings_for(overrides)), sources)


@task(name="refresh-metrics", task_run_name="refresh metrics {year}", **_ROBUST)  # type: ignore[call-overload]
def refresh_metrics(year: int, overrides: dict[str, str], as_of: date | None = None) -> int:
    """Recompute the year's figures into the mart; returns how many figures."""
    from metrics.mart import refresh_mart

    settings = settings_for(overrides)
    values = refresh_mart(warehouse(settings), year, as_of, region=settings.region)
    return len(values)


@task(name="render-report", task_run_name="render report {year}", **_ROBUST)  # type: ignore[call-overload]
def render_annual_report(
    year: int,
    overrides: dict[str, str],
    as_of: date | None = None,
    formats: list[str] | None = None,
) -> list[str]:
    """Render the year's report from the mart's figures (refresh-metrics computed them) into
    the reports folder; returns the files written."""
    from report.render import FORMATS, render_report

    settings = settings_for(overrides)
    paths = render_report(
        warehouse(settings),
        year,
        as_of,
        settings.resolved_reports_dir(),
        formats or FORMATS,
        region=settings.region,
        bureau=settings.bureau,
        due_day=settings.delivery_due_day,
    )
    return [str(p) for p in paths]


@task(name="build-data-docs", task_run_name="build Data Docs", **_ROBUST)  # type: ignore[call-overload]
def build_data_docs(overrides: dict[str, str]) -> str | None:
    """Rebuild the Great Expectations Data Docs site; returns its index.html."""
    from expectations.audit import build_data_docs as build

    settings = settings_for(overrides)
    index = build(settings.resolved_data_docs_dir())
    return str(index) if index else None
