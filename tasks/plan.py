"""What a backfill will do, decided before anything is written.

`build_backfill_plan` is a pure function of the batch ledger, the files the landing area holds
now (with their content hashes) and the operator's request. The dry run prints its result; the
backfill flow executes exactly that object, so what the operator reviewed is what runs.

Rule 2 of the contract: a backfill keeps the original delivery order, so files already in the
ledger are processed in `delivery_order`, and contents the ledger has never seen (a `_v2`
correction dropped in by hand, a file whose run crashed before it was registered) come after
them, ordered like files first seen in the same run: period end, period start, version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # connectors.batch imports pandas: not needed to plan
    from connectors.batch import LandingFile

Action = Literal["skip", "publish", "republish", "revalidate", "missing"]

# What each action means, in the words the dry run prints.
ACTIONS: dict[str, str] = {
    "skip": "unchanged: this content is already in the ledger, nothing to redo",
    "publish": "new content: validated and published as a new delivery",
    "republish": "published before: re-validated under the current rules and its rows "
    "republished in its original delivery order",
    "revalidate": "quarantined before: re-validated under the current rules; published in "
    "its original delivery order if it now passes",
    "missing": "in the ledger but its content is no longer in the landing area: left as is",
}
PROCESSED_ACTIONS = frozenset({"publish", "republish", "revalidate"})
# Ledger statuses of a file whose processing finished (anything else is resumed).
FINISHED_STATUSES = frozenset({"published", "quarantined", "superseded", "skipped"})


@dataclass(frozen=True)
class Delivered:
    """One ledger entry: a delivered content of one source."""

    source: str
    file: str  # relative path in the landing area, e.g. "cases/行政处罚案件_20240101-20240131.xlsx"
    sha256: str
    period_start: date
    period_end: date
    version: int
    delivery_order: int
    status: str
    batch_id: int | None = None


@dataclass(frozen=True)
class Present:
    """A delivery in the landing area now, with the hash of its content."""

    file: LandingFile
    sha256: str
    size: int = 0  # bytes (0 where not known)


@dataclass(frozen=True)
class PlannedFile:
    """One file of the plan and what will happen to it."""

    source: str
    file: str
    period_start: date
    period_end: date
    version: int
    sha256: str
    action: Action
    delivery_order: int | None  # None: a new delivery, its order is assigned when registered
    status: str | None  # ledger status before the backfill (None: not in the ledger)
    landing: LandingFile | None = field(default=None, compare=False)
    batch_id: int | None = field(default=None, compare=False)
    size: int = field(default=0, compare=False)  # bytes to read (the executors' order)

    @property
    def processed(self) -> bool:
        return self.action in PROCESSED_ACTIONS

    @property
    def years(self) -> range:
        return range(self.period_start.year, self.period_end.year + 1)


@dataclass(frozen=True)
class BackfillPlan:
    """Every delivery intersecting the range, in processing order, with its action."""

    start: date
    end: date
    sources: tuple[str, ...]  # () means every source
    force: bool
    files: tuple[PlannedFile, ...]
    years: tuple[int, ...]  # years whose metrics and report are refreshed afterwards

    @property
    def to_process(self) -> tuple[PlannedFile, ...]:
        return tuple(f for f in self.files if f.processed)

    def queues(self) -> dict[str, list[PlannedFile]]:
        """Files to process per source, in processing order (sources in order of first file)."""
        out: dict[str, list[PlannedFile]] = {}
        for f in self.to_process:
            out.setdefault(f.source, []).append(f)
        return out

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(ACTIONS, 0)
        for f in self.files:
            out[f.action] += 1
        return out

    def registered(self, orders: Mapping[tuple[str, str], tuple[int, int]]) -> BackfillPlan:
        """The same plan once its new deliveries are in the ledger.

        `orders` maps (source, sha256) to (batch id, delivery order) as registration gave
        them; nothing else changes, so the run executes exactly the plan the dry run showed.
        """
        files = []
        for f in self.files:
            got = orders.get((f.source, f.sha256))
            if got is not None and f.delivery_order is None:
                f = replace(f, batch_id=got[0], delivery_order=got[1])
            elif got is not None and f.batch_id is None:
                f = replace(f, batch_id=got[0])
            files.append(f)
        return replace(self, files=tuple(files))

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "sources": list(self.sources),
            "force": self.force,
            "files": [
                {
                    k: (v.isoformat() if isinstance(v, date) else v)
                    for k, v in asdict(f).items()
                    if k not in ("landing", "batch_id", "size")
                }
                for f in self.files
            ],
            "years": list(self.years),
            "counts": self.counts(),
        }


def intersects(start: date, end: date, period_start: date, period_end: date) -> bool:
    return period_start <= end and period_end >= start


def _new_delivery_key(p: Present) -> tuple[date, date, int, str, str]:
    return p.file.delivery_key


def build_backfill_plan(
    ledger: Iterable[Delivered],
    present: Iterable[Present],
    *,
    start: date,
    end: date,
    sources: Iterable[str] | None = None,
    force: bool = False,
) -> BackfillPlan:
    """Decide, for every delivery whose period intersects [start, end], what the backfill does."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    wanted = tuple(sorted(set(sources or ())))

    def selected(source: str, p_start: date, p_end: date) -> bool:
        return (not wanted or source in wanted) and intersects(start, end, p_start, p_end)

    # Content present now, by (source, sha256); the same content under its ledger name first.
    by_content: dict[tuple[str, str], list[Present]] = {}
    for p in present:
        by_content.setdefault((p.file.source, p.sha256), []).append(p)

    planned: list[PlannedFile] = []
    known: set[tuple[str, str]] = set()
    for d in sorted(ledger, key=lambda d: d.delivery_order):
        known.add((d.source, d.sha256))
        if not selected(d.source, d.period_start, d.period_end):
            continue
        holders = sorted(
            by_content.get((d.source, d.sha256), []),
            key=lambda p: (p.file.relative != d.file, p.file.relative),
        )
        if not holders:
            action: Action = "missing"
        elif d.status not in FINISHED_STATUSES:
            action = "publish"  # registered by a run that never finished it: resume
        elif not force:
            action = "skip"
        elif d.status == "quarantined":
            action = "revalidate"
        else:
            action = "republish"
        planned.append(
            PlannedFile(
                source=d.source,
                file=d.file,
                period_start=d.period_start,
                period_end=d.period_end,
                version=d.version,
                sha256=d.sha256,
                action=action,
                delivery_order=d.delivery_order,
                status=d.status,
                landing=holders[0].file if holders else None,
                batch_id=d.batch_id,
                size=holders[0].size if holders else 0,
            )
        )

    # Contents the ledger has never seen: new deliveries, after every known one.
    new = [
        p
        for key, ps in by_content.items()
        if key not in known
        for p in ps[:1]
        if selected(p.file.source, p.file.period_start, p.file.period_end)
    ]
    for p in sorted(new, key=_new_delivery_key):
        planned.append(
            PlannedFile(
                source=p.file.source,
                file=p.file.relative,
                period_start=p.file.period_start,
                period_end=p.file.period_end,
                version=p.file.version,
                sha256=p.sha256,
                action="publish",
                delivery_order=None,
                status=None,
                landing=p.file,
                size=p.size,
            )
        )

    years = sorted({y for f in planned if f.processed for y in f.years})
    return BackfillPlan(
        start=start,
        end=end,
        sources=wanted,
        force=force,
        files=tuple(planned),
        years=tuple(years),
    )


def build_nightly_plan(ledger: Iterable[Delivered], present: Iterable[Present]) -> BackfillPlan:
    """The nightly run: every content in the landing area the ledger has not finished.

    The same planning as a backfill over all time without force, minus the ledger entries whose
    content has left the landing area (a nightly run only looks at what is there), plus a
    `skip` for each further copy of a content under another name (rule 3), so every file of
    the landing area has its line.
    """
    present = list(present)
    full = build_backfill_plan(ledger, present, start=date.min, end=date.max)
    files = [f for f in full.files if f.action != "missing"]
    by_content = {(f.source, f.sha256): f for f in files}
    listed = {f.landing.relative for f in files if f.landing is not None}
    for p in present:
        if p.file.relative in listed:
            continue
        first = by_content[(p.file.source, p.sha256)]
        files.append(
            replace(
                first,
                file=p.file.relative,
                version=p.file.version,
                action="skip",
                status=first.status,
                landing=p.file,
                size=p.size,
            )
        )
    years = tuple(sorted({y for f in files if f.processed for y in f.years}))
    return BackfillPlan(
        start=full.start, end=full.end, sources=(), force=False, files=tuple(files), years=years
    )


def delivered_from_row(row: Mapping[str, Any]) -> Delivered:
    """A ledger entry from a row of the `batch` table."""
    return Delivered(
        source=row["source"],
        file=row["file"],
        sha256=row["sha256"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        version=int(row["version"]),
        delivery_order=int(row["delivery_order"]),
        status=row["status"],
        batch_id=row.get("id"),
    )


def render_plan(plan: BackfillPlan) -> str:
    """The dry run's text: one line per file in processing order, then the refresh."""
    scope = ", ".join(plan.sources) if plan.sources else "all sources"
    lines = [
        f"Backfill plan {plan.start} .. {plan.end} ({scope}"
        f"{', force' if plan.force else ''}): {len(plan.files)} delivered file(s), "
        f"{len(plan.to_process)} to process",
        "",
        f"{'#':>3}  {'order':>5}  {'action':<10}  {'status before':<13}  file",
    ]
    for i, f in enumerate(plan.files, 1):
        order = str(f.delivery_order) if f.delivery_order is not None else "new"
        lines.append(f"{i:>3}  {order:>5}  {f.action:<10}  {f.status or '-':<13}  {f.file}")
    counts = plan.counts()
    lines += [
        "",
        "  ".join(f"{a}: {n}" for a, n in counts.items() if n),
        "metrics and report refreshed for: "
        + (", ".join(str(y) for y in plan.years) if plan.years else "nothing (no file to process)"),
    ]
    return "\n".join(lines)
