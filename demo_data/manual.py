"""The demo year's workbook of the `manual` source: the offices' figures no export holds,
typed in from the project's copy of the published ones (demo_data/manual-figures-2024.json,
a copy of the contract's shared/spec/manual-figures-2024.json), each at its own cut-off.

Kept apart from the export generator: it has no plan, no quirks and no rejects; the exports
it sits beside stay byte-identical.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

from connectors.sources import MANUAL

# Who typed the figures in (a made-up name: masked in the warehouse, rule 7).
ENTERED_BY = "林晓红"


def manual_figures(year: int) -> dict[str, dict[str, Any]] | None:
    """The published figures no export holds for `year`, shipped with the package."""
    resource = files("demo_data") / f"manual-figures-{year}.json"
    if not resource.is_file():
        return None
    return json.loads(resource.read_text(encoding="utf-8"))["metrics"]  # type: ignore[no-any-return]


def write_manual(year: int, out: Path) -> list[dict[str, Any]]:
    """Write `<out>/manual/手工填报指标_<year>.xlsx` when the year's figures are known; its
    entry for the generator's summary (expected accounting: every row accepted)."""
    from report.manual_workbook import Entry, file_name, write_workbook

    figures = manual_figures(year)
    if figures is None:
        return []
    entries = {
        code: Entry(
            as_of=date.fromisoformat(spec["as_of"]),
            value=Decimal(str(spec["value"])),
            evidence=f"蓬江市监法〔{year}〕{i + 1}号",
            entered_by=ENTERED_BY,
        )
        for i, (code, spec) in enumerate(figures.items())
    }
    relative = f"{MANUAL.code}/{file_name(year)}"
    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    write_workbook(path, year, entries=entries)
    return [
        {
            "path": relative,
            "source": MANUAL.code,
            "period_start": date(year, 1, 1).isoformat(),
            "period_end": date(year, 12, 31).isoformat(),
            "version": 1,
            "superseded": False,
            "rows_read": len(entries),
            "rows_accepted": len(entries),
            "rows_rejected": 0,
            "rows_duplicate": 0,
            "reject_reasons": [],
            "blank_lines": 0,
            "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
    ]
