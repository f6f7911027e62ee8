"""Flow-run names that say what ran, so a morning's runs can be told apart in the Prefect UI.

`nightly 2026-12-06` (the bureau's date, Asia/Shanghai), `backfill 2024-03-01..2024-04-30
[registration]` (the sources, or `all`), `annual-report 2024`. The flows name their runs with
the callables at the end (`flow_run_name=`); the pure functions are what they format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from connectors.cadence import bureau_today


def sources_label(sources: Iterable[str] | None) -> str:
    names = [str(getattr(s, "value", s)) for s in sources or ()]
    return ", ".join(names) if names else "all"


def nightly_name(today: date) -> str:
    return f"nightly {today.isoformat()}"


def backfill_name(parameters: Mapping[str, Any]) -> str:
    """`backfill START..END [sources]`, with `(dry run)` when it only plans."""
    name = (
        f"backfill {parameters.get('start')}..{parameters.get('end')} "
        f"[{sources_label(parameters.get('sources'))}]"
    )
    if parameters.get("force"):
        name += " force"
    if parameters.get("dry_run"):
        name += " (dry run)"
    return name


def annual_report_name(parameters: Mapping[str, Any]) -> str:
    name = f"annual-report {parameters.get('year')}"
    if parameters.get("as_of"):
        name += f" as of {parameters['as_of']}"
    return name


def _parameters() -> dict[str, Any]:
    from prefect.runtime import flow_run

    return dict(flow_run.parameters or {})


def nightly_run_name() -> str:
    return nightly_name(bureau_today())


def backfill_run_name() -> str:
    return backfill_name(_parameters())


def annual_report_run_name() -> str:
    return annual_report_name(_parameters())
