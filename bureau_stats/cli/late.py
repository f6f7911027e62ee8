"""`bureau-stats status --late`: the overdue periods of each source, as of today.

Not a command module: `status` calls `show_late` (bureau_stats/cli/ingest.py)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table


def late_document(overdue: list[Any], today: Any, due_day: int) -> dict[str, Any]:
    """`status --late --json`: today (the bureau's date), the due day, every overdue period."""
    return {
        "today": today.isoformat(),
        "due_day": due_day,
        "overdue": [o.to_dict() for o in overdue],
    }


def show_late(engine: Any, due_day: int, source: str | None, as_json: bool) -> None:
    """Print the overdue periods (all sources, or one) as a table or one JSON document."""
    from connectors.cadence import bureau_today
    from warehouse.lateness import ledger_overdue

    today = bureau_today()
    overdue = [o for o in ledger_overdue(engine, today, due_day) if source in (None, o.source)]
    if as_json:
        doc = late_document(overdue, today, due_day)
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 240)
    if not overdue:
        console.print(f"no delivery overdue on {today} (due by day {due_day} of the next month)")
        return
    table = Table(title=f"late and missing deliveries on {today} (due day {due_day})")
    for col in ("source", "period", "due", "days overdue", ""):
        table.add_column(col, justify="right" if col == "days overdue" else "left")
    for o in overdue:
        table.add_row(o.source, o.period, o.due.isoformat(), str(o.days_overdue), o.why)
    console.print(table)
    sources = sorted({o.source for o in overdue})
    console.print(
        f"{len(overdue)} period(s) overdue in {len(sources)} source(s): {', '.join(sources)}"
    )
