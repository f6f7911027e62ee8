"""Late and missing deliveries: which periods each source should have delivered by today.

Each source declares its cadence (`Source.cadence`: month, quarter, half_year or year); the export
of a period is due by day `due_day` of the month after the period (BUREAU_STATS_DELIVERY_DUE_DAY,
clamped to the month's length). Pure: the caller gives the ledger's deliveries and the
bureau's today (Asia/Shanghai).

Which periods are expected (so a 2024 demo evaluated in 2026 is not flooded with 2025 and 2026
months): per source, from the period holding the first day it ever delivered, up to the last
period due before today; but when the ledger is not live (its newest period ends before last
year), only up to the end of the newest year the ledger holds. A source that never delivered
anything is not evaluated. A period counts as delivered when published (or superseded)
deliveries cover every day of it; one covered only by quarantined files is missing, and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.sources import PERIOD_MONTHS, SOURCES, Cadence, Source

MONTHS_PER_PERIOD: dict[Cadence, int] = PERIOD_MONTHS  # one declaration (sources.py)
DELIVERED = ("published", "superseded")  # ledger statuses whose period counts as delivered
DEFAULT_DUE_DAY = 10
BUREAU_TZ = ZoneInfo("Asia/Shanghai")


def bureau_today() -> date:
    """Today in the bureau's calendar (Asia/Shanghai), whatever the host's zone."""
    return datetime.now(BUREAU_TZ).date()


@dataclass(frozen=True)
class Delivery:
    """One ledger entry, as far as lateness is concerned."""

    source: str
    start: date
    end: date
    status: str  # published | superseded | quarantined | pending

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Delivery:
        """From a `warehouse.status.list_batches` entry (period as ISO dates)."""
        start, end = entry["period"]
        return cls(
            entry["source"], date.fromisoformat(start), date.fromisoformat(end), entry["status"]
        )


@dataclass(frozen=True)
class Overdue:
    """A period of a source that is past due and not delivered."""

    source: str
    start: date
    end: date
    due: date
    days_overdue: int
    quarantined_only: bool  # only quarantined files were delivered for it

    @property
    def period(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def why(self) -> str:
        return "only quarantined files delivered" if self.quarantined_only else "not delivered"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "period": [self.start.isoformat(), self.end.isoformat()],
            "due": self.due.isoformat(),
            "days_overdue": self.days_overdue,
            "quarantined_only": self.quarantined_only,
        }


def _month_start(d: date, months: int = 0) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_of(cadence: Cadence, day: date) -> tuple[date, date]:
    """The period of that cadence holding `day` (calendar months, quarters, half-years)."""
    size = MONTHS_PER_PERIOD[cadence]
    start = date(day.year, (day.month - 1) // size * size + 1, 1)
    return start, _month_start(start, size) - timedelta(days=1)


def due_date(period_end: date, due_day: int) -> date:
    """Day `due_day` of the month after the period (the month's last day if shorter)."""
    first = _month_start(period_end, 1)
    last = _month_start(first, 1) - timedelta(days=1)
    return first.replace(day=min(max(due_day, 1), last.day))


def _covered(start: date, end: date, spans: list[tuple[date, date]]) -> bool:
    """Whether the union of the spans covers every day of [start, end]."""
    reached = start - timedelta(days=1)
    for a, b in sorted(spans):
        if a > reached + timedelta(days=1):
            break
        reached = max(reached, b)
        if reached >= end:
            return True
    return reached >= end


def _overlaps(start: date, end: date, spans: list[tuple[date, date]]) -> bool:
    return any(a <= end and b >= start for a, b in spans)


def expected_until(deliveries: list[Delivery], today: date) -> date:
    """The last day whose period may be expected: today while the ledger is live (it holds a
    period ending last year or later), else the end of the newest year it holds."""
    newest = max(d.end.year for d in deliveries)
    return today if newest >= today.year - 1 else date(newest, 12, 31)


def source_overdue(
    source: Source,
    deliveries: list[Delivery],
    today: date,
    due_day: int,
    until: date,
) -> list[Overdue]:
    """The overdue periods of one source (its own deliveries), oldest first."""
    mine = [d for d in deliveries if d.source == source.code and d.status != "pending"]
    if not mine:
        return []
    delivered = [(d.start, d.end) for d in mine if d.status in DELIVERED]
    quarantined = [(d.start, d.end) for d in mine if d.status == "quarantined"]
    start, end = period_of(source.cadence, min(d.start for d in mine))
    out = []
    while end <= until and (due := due_date(end, due_day)) < today:
        if not _covered(start, end, delivered):
            out.append(
                Overdue(
                    source.code,
                    start,
                    end,
                    due,
                    (today - due).days,
                    quarantined_only=_overlaps(start, end, quarantined),
                )
            )
        start, end = period_of(source.cadence, end + timedelta(days=1))
    return out


def overdue_periods(
    deliveries: Iterable[Delivery],
    today: date,
    due_day: int = DEFAULT_DUE_DAY,
    sources: Mapping[str, Source] = SOURCES,
) -> list[Overdue]:
    """Every overdue period of every source, by source (declaration order), oldest first."""
    known = [d for d in deliveries if d.status != "pending"]
    if not known:
        return []
    until = expected_until(known, today)
    return [o for s in sources.values() for o in source_overdue(s, known, today, due_day, until)]


def by_source(overdue: Iterable[Overdue]) -> dict[str, list[Overdue]]:
    out: dict[str, list[Overdue]] = {}
    for o in overdue:
        out.setdefault(o.source, []).append(o)
    return out
