"""Coverage of every figure: which delivery periods a figure must include, and which it lacks.

A figure counts rows of the periods its source delivered; a period never delivered, or only
quarantined, is silently missing from the number. Here each figure learns, from its source's
cadence (`Source.cadence`, `PERIOD_MONTHS`), the periods it must cover up to its cut-off, and
the batch ledger says which are published (as known at a moment, if asked). One query over the
ledger answers every period of every figure; a new cadence is a new entry of `PERIOD_MONTHS`.

- flow (count, sum over an event-date window): each period of the source overlapping
  [Y-01-01, window end];
- stock (latest_month): the period holding the window end only;
- ratio: the union of its components; yoy: its base at this window and at the same window
  of the previous year (the comparison is only as good as last year's figure).

Every required period counts, also one not yet due at the moment of evaluation: the figure
still lacks it, and the reason says "not yet due" instead of "not delivered".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    and_,
    exists,
    func,
    literal,
    select,
    union_all,
)

from connectors.bureau_time import BUREAU_TZ
from connectors.cadence import DEFAULT_DUE_DAY, bureau_today, due_date, period_of
from connectors.sources import PERIOD_MONTHS, SOURCES
from metrics.catalog import Catalog, Metric, load_catalog
from metrics.engine import Window, to_utc
from warehouse.schema import batch

T = TypeVar("T")
NOT_DELIVERED = "not delivered"
QUARANTINED = "quarantined"
NOT_YET_DUE = "not yet due"
DELIVERED = ("published", "superseded")  # a superseded batch was replaced by a newer one
_WHY = {NOT_DELIVERED: "未报送", QUARANTINED: "文件已隔离", NOT_YET_DUE: "尚未到报送期限"}
_HALVES = {1: "上半年", 2: "下半年"}
_QUARTERS = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}


@dataclass(frozen=True)
class Missing:
    """One period a figure lacks, named as its source's cadence names it."""

    period: str  # "2024-09" (month), "2024-Q3", "2024-H2", "2024" (year)
    reason: str  # "not delivered" | "quarantined" | "not yet due"
    file: str | None  # the quarantined file's name, None when nothing was delivered
    source: str = ""  # the source code (for the footnote's wording)

    def as_json(self) -> dict[str, Any]:
        return {"period": self.period, "reason": self.reason, "file": self.file}


@dataclass(frozen=True)
class Coverage:
    complete: bool
    missing: tuple[Missing, ...] = ()

    def note(self) -> str:
        """The report's footnote text in Chinese; "" when complete. One clause per source and
        reason: `未含2024年9月数据(特种设备使用登记文件已隔离:F.json)`."""
        groups: dict[tuple[str, str], list[Missing]] = {}
        for m in self.missing:
            groups.setdefault((m.source, m.reason), []).append(m)
        clauses = []
        for (source, reason), items in groups.items():
            label = SOURCES[source].label if source in SOURCES else ""
            files = "、".join(dict.fromkeys(m.file for m in items if m.file))
            why = f"{label}{_WHY.get(reason, reason)}" + (f":{files}" if files else "")
            clauses.append(f"未含{_periods_text([m.period for m in items])}数据({why})")
        return ";".join(clauses)

    def summary(self) -> str:
        """One line in English: `2024-09 quarantined (F.json), 2024-10..2024-12 not delivered`
        (consecutive periods missing for the same reason, and file, as one range)."""
        runs = _consecutive(self.missing, lambda m: m.period, lambda m: (m.reason, m.file))
        return ", ".join(
            (run[0].period if len(run) == 1 else f"{run[0].period}..{run[-1].period}")
            + f" {run[0].reason}"
            + (f" ({run[0].file})" if run[0].file else "")
            for run in runs
        )

    def as_json(self) -> dict[str, Any]:
        return {"complete": self.complete, "missing": [m.as_json() for m in self.missing]}


COMPLETE = Coverage(True)


# ----------------------------------------------------------------------------- periods


@dataclass(frozen=True, order=True)
class Period:
    """One delivery period of one source."""

    start: date
    end: date
    source: str

    @property
    def months(self) -> int:
        return PERIOD_MONTHS[SOURCES[self.source].cadence]

    @property
    def name(self) -> str:
        """`2024-09`, `2024-Q3`, `2024-H2`, `2024`; another span: `2024-03..2024-04`."""
        size, year = self.months, self.start.year
        index = (self.start.month - 1) // size + 1
        if size == 1:
            return f"{year}-{self.start.month:02d}"
        if size == 12:
            return str(year)
        if size in (3, 6):
            return f"{year}-{'Q' if size == 3 else 'H'}{index}"
        return f"{year}-{self.start.month:02d}..{self.end.year}-{self.end.month:02d}"


def _period_cn(name: str) -> tuple[str, str]:
    """(year, rest) of a period name in Chinese: ("2024年", "9月"), ("2024年", "第三季度")."""
    year, _, rest = name.partition("-")
    if not rest:
        return "", f"{year}年度"
    if rest[0] == "Q":
        return f"{year}年", _QUARTERS[int(rest[1:])]
    if rest[0] == "H":
        return f"{year}年", _HALVES[int(rest[1:])]
    if ".." in rest:
        return f"{year}年", f"{int(rest[:2])}月至{int(rest[-2:])}月"
    return f"{year}年", f"{int(rest)}月"


def _ordinal(name: str) -> tuple[str, int] | None:
    """(kind, running number) of a period name, to find consecutive periods; None if odd."""
    year, _, rest = name.partition("-")
    if not rest:
        return "Y", int(year)
    if rest[0] in "QH":
        per_year = 4 if rest[0] == "Q" else 2
        return rest[0], int(year) * per_year + int(rest[1:])
    if ".." in rest:
        return None
    return "M", int(year) * 12 + int(rest)


def _consecutive(
    items: Sequence[T], period: Callable[[T], str], same: Callable[[T], Any] = lambda _: None
) -> list[list[T]]:
    """`items` cut into runs of consecutive periods (each the one after the last) that are the
    `same` in what else they say, in their order."""
    runs: list[list[T]] = []
    for item in items:
        if runs:
            last = runs[-1][-1]
            here, before = _ordinal(period(item)), _ordinal(period(last))
            if (
                here is not None
                and before is not None
                and here == (before[0], before[1] + 1)
                and same(item) == same(last)
            ):
                runs[-1].append(item)
                continue
        runs.append([item])
    return runs


def _periods_text(names: list[str]) -> str:
    """`2024年9月`, `2024年3月、9月至12月`, `2023年12月、2024年1月`: consecutive periods as a
    range, the year said once per year."""
    runs = _consecutive(names, lambda name: name)
    parts, last_year = [], ""
    for run in runs:
        year, first = _period_cn(run[0])
        text = first if year == last_year else f"{year}{first}"
        if len(run) > 1:
            end_year, end = _period_cn(run[-1])
            text += f"至{end}" if end_year == year else f"至{end_year}{end}"
            year = end_year
        parts.append(text)
        last_year = year
    return "、".join(parts)


def periods_between(source: str, start: date, end: date) -> list[Period]:
    """The source's delivery periods overlapping [start, end], oldest first."""
    cadence = SOURCES[source].cadence
    out = []
    first, last = period_of(cadence, start)
    while first <= end:
        out.append(Period(first, last, source))
        first, last = period_of(cadence, last + timedelta(days=1))
    return out


def required_periods(metric: Metric, catalog: Catalog, window: Window) -> set[Period]:
    """The periods the figure must include at this window (see the module docstring)."""
    kind = metric.aggregate.kind
    if kind == "ratio":
        return set().union(
            *(required_periods(catalog[c], catalog, window) for c in metric.components)
        )
    if kind == "yoy":
        base = catalog[metric.aggregate.args[0]]
        earlier = window.previous_year()
        return required_periods(base, catalog, window) | required_periods(base, catalog, earlier)
    assert metric.source is not None
    if kind == "latest_month":
        return set(periods_between(metric.source, window.end, window.end))
    return set(periods_between(metric.source, window.start, window.end))


# ------------------------------------------------------------------------------ ledger


def _ledger_state(
    engine: Engine, periods: list[Period], as_known_at: datetime | None
) -> dict[Period, tuple[bool, str | None]]:
    """Per period: published (covered by one delivered batch) and the latest quarantined file
    overlapping it. One query: the periods as a derived table, two correlated subqueries."""
    if not periods:
        return {}
    required = union_all(
        *(
            select(
                literal(i, Integer).label("i"),
                literal(p.source).label("source"),
                literal(p.start).label("period_start"),
                literal(p.end).label("period_end"),
            )
            for i, p in enumerate(periods)
        )
    ).subquery("required")
    delivered: ColumnElement[bool]
    quarantined: ColumnElement[bool]
    if as_known_at is None:
        delivered = batch.c.status.in_(DELIVERED)
        quarantined = batch.c.status == QUARANTINED
    else:
        moment = to_utc(as_known_at)
        delivered = and_(batch.c.published_at.is_not(None), batch.c.published_at <= moment)
        seen = func.coalesce(batch.c.finished_at, batch.c.first_seen_at)
        quarantined = and_(batch.c.status == QUARANTINED, seen <= moment)
    same_source = batch.c.source == required.c.source
    covering = exists().where(
        same_source,
        delivered,
        batch.c.period_start <= required.c.period_start,
        batch.c.period_end >= required.c.period_end,
    )
    last_quarantined = (
        select(batch.c.name)
        .where(
            same_source,
            quarantined,
            batch.c.period_start <= required.c.period_end,
            batch.c.period_end >= required.c.period_start,
        )
        .order_by(batch.c.delivery_order.desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = select(required.c.i, covering.label("covered"), last_quarantined.label("file"))
    with engine.connect() as conn:
        return {periods[r.i]: (bool(r.covered), r.file) for r in conn.execute(stmt)}


def figure_coverage(
    engine: Engine,
    year: int,
    as_of: date | None = None,
    as_known_at: datetime | None = None,
    catalog: Catalog | None = None,
    region: str | None = None,
    *,
    due_day: int = DEFAULT_DUE_DAY,
    today: date | None = None,
) -> dict[str, Coverage]:
    """Every catalog figure's coverage at the cut-off, in catalog order.

    `region` is accepted for the same call as `compute_metrics`: a delivery covers every
    region. `today` (default: the bureau's today, or the day of `as_known_at`) and `due_day`
    (BUREAU_STATS_DELIVERY_DUE_DAY) only tell "not yet due" from "not delivered".
    """
    del region
    catalog = catalog or load_catalog()
    window = Window.of(year, as_of)
    needs = {m.code: sorted(required_periods(m, catalog, window)) for m in catalog}
    periods = sorted(set().union(*needs.values())) if needs else []
    state = _ledger_state(engine, periods, as_known_at)
    if today is None:
        today = to_utc(as_known_at).astimezone(BUREAU_TZ).date() if as_known_at else bureau_today()
    lacking: dict[Period, Missing] = {}
    for p in periods:
        covered, file = state[p]
        if covered:
            continue
        if file is not None:
            reason = QUARANTINED
        elif due_date(p.end, due_day) >= today:
            reason = NOT_YET_DUE
        else:
            reason = NOT_DELIVERED
        lacking[p] = Missing(p.name, reason, file, p.source)
    out = {}
    for code, required in needs.items():
        missing = tuple(lacking[p] for p in required if p in lacking)
        out[code] = Coverage(False, missing) if missing else COMPLETE
    return out


def incomplete_line(code: str, label: str, coverage: Coverage) -> str:
    """`seq.approved_units 核准特种设备使用登记: 2024-09 quarantined (F.json)`."""
    return f"{code} {label}: {coverage.summary()}"
