"""The nightly's check for late and missing deliveries: overdue periods per source, logged and
emitted as Prefect events (`bureau-stats.delivery.overdue`, one per source) so an automation can
notify. The computation is connectors/cadence.py; this reads the ledger and talks to Prefect."""

from __future__ import annotations

from typing import Any

from prefect import task

from connectors.cadence import Overdue, bureau_today, by_source
from tasks.context import settings_for, step_logger, warehouse
from warehouse.lateness import ledger_overdue

OVERDUE_EVENT = "bureau-stats.delivery.overdue"


def source_resource(source: str) -> dict[str, str]:
    return {"prefect.resource.id": f"bureau-stats.source.{source}", "prefect.resource.name": source}


def overdue_payload(periods: list[Overdue]) -> dict[str, Any]:
    """What an automation's notification can quote: the periods, due dates and days overdue."""
    return {
        "source": periods[0].source,
        "periods": [o.to_dict() for o in periods],
        "count": len(periods),
        "days_overdue": max(o.days_overdue for o in periods),
        "oldest": periods[0].start.isoformat(),
    }


@task(name="late-deliveries", task_run_name="late and missing deliveries")
def late_deliveries(overrides: dict[str, str]) -> list[Overdue]:
    """Overdue periods per source as of today (Asia/Shanghai); one warning per source with
    any, and in a flow run one Prefect event per such source (an in-process run has no
    Prefect server to send it to)."""
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.events import emit_event

    settings = settings_for(overrides)
    overdue = ledger_overdue(warehouse(settings), bureau_today(), settings.delivery_due_day)
    logger = step_logger(__name__)
    in_a_run = TaskRunContext.get() is not None or FlowRunContext.get() is not None
    for source, periods in by_source(overdue).items():
        logger.warning(
            "%s: %d period(s) overdue (%s), the oldest due %s",
            source,
            len(periods),
            ", ".join(f"{o.period} {o.why}" for o in periods[:6])
            + (", ..." if len(periods) > 6 else ""),
            periods[0].due.isoformat(),
        )
        if not in_a_run:
            continue
        emit_event(
            event=OVERDUE_EVENT,
            resource=source_resource(source),
            payload=overdue_payload(periods),
        )
    return overdue
