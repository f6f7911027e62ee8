"""Overdue periods per source from the ledger (what `status --late` and the nightly report).

The rule is connectors/cadence.py's; this only reads the finished deliveries."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from connectors.cadence import Delivery, Overdue, overdue_periods
from warehouse.status import list_batches


def ledger_overdue(engine: Engine, today: date, due_day: int) -> list[Overdue]:
    """Every overdue period as of `today` (the bureau's date), by source, oldest first."""
    deliveries = [Delivery.from_entry(e) for e in list_batches(engine)]
    return overdue_periods(deliveries, today, due_day=due_day)
