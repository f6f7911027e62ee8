"""Hostile deliveries, generated (never committed as files): each writes itself into a landing area."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class HostileCase:
    name: str  # short id, e.g. "xlsx_formula_without_value"
    write: Callable[[Path, int], list[str]]  # (landing dir, year) -> relative names written
    status: (
        str | None
    )  # expected ledger status of the written delivery: "published", "quarantined", or None when it must be ignored (not a delivery)
    reason: str | None = None  # expected quarantine reason, or a row-reject reason that must appear
    notes: str = ""
    extra: dict[str, object] = field(default_factory=dict)
