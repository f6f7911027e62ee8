"""Render one year's annual report (after refreshing its metrics), on demand."""

from __future__ import annotations

from datetime import date

from prefect import flow

from flows.common import flow_run
from flows.run import refresh_years
from flows.run_names import annual_report_run_name


@flow(
    name="annual-report",
    flow_run_name=annual_report_run_name,
    description="Refresh the metrics of one year and render its annual report.",
    validate_parameters=True,
)
def annual_report(year: int, as_of: date | None = None) -> list[str]:
    """The report of `year`, with figures up to `as_of` (default: the whole year)."""
    from prefect.artifacts import create_markdown_artifact

    with flow_run("annual-report", None, None, needs_pii_key=False) as executor:
        _, reports = refresh_years(executor, [year], as_of)
    create_markdown_artifact(
        f"# Annual report {year}"
        + (f" (figures up to {as_of})" if as_of else "")
        + "\n\n"
        + "\n".join(f"- `{r}`" for r in reports),
        key="annual-report",
        description=f"Report files of {year}",
    )
    return reports
