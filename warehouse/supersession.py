"""Supersession (sources.md rules 1-2), set-based, inside the publish transaction.

For each source and partition date the current rows are those of the published file with the
highest delivery order whose period covers that date. Publishing a file marks current rows of
files with a lower (or its own) delivery order in its period as superseded (`supersede_older`);
its own rows for dates covered by a file with a higher delivery order are inserted already
superseded (`newer_periods`), so replays and backfills never let an older file win. A
quarantined re-validation gives its dates back to the files that held them (`withdraw`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Table,
    and_,
    cast,
    exists,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)

from warehouse.ledger import BatchRecord
from warehouse.schema import batch, source_table


def _covered(intervals: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s <= start and end <= e for s, e in intervals)


def _add_interval(intervals: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Union of day intervals (inclusive ordinals), adjacent days merged."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted([*intervals, (start, end)]):
        if merged and s <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def ledger_statuses(rows: Iterable[Any]) -> dict[int, str]:
    """Status of each published file of one source: `superseded` when every date of its period
    is covered by files with a higher delivery order, else `published`. Pure."""
    out: dict[int, str] = {}
    union: list[tuple[int, int]] = []
    for r in sorted(rows, key=lambda r: r.delivery_order, reverse=True):
        start, end = r.period_start.toordinal(), r.period_end.toordinal()
        out[r.id] = "superseded" if _covered(union, start, end) else "published"
        union = _add_interval(union, start, end)
    return out


def refresh_statuses(conn: Connection, source: str, now: datetime) -> None:
    rows = conn.execute(
        select(
            batch.c.id,
            batch.c.delivery_order,
            batch.c.period_start,
            batch.c.period_end,
            batch.c.status,
        ).where(batch.c.source == source, _live())
    ).all()
    wanted = ledger_statuses(rows)  # a reopened (pending) file still covers; it keeps its status
    to_supersede = [r.id for r in rows if r.status == "published" and wanted[r.id] == "superseded"]
    to_restore = [r.id for r in rows if r.status == "superseded" and wanted[r.id] == "published"]
    if to_supersede:
        conn.execute(
            update(batch)
            .where(batch.c.id.in_(to_supersede))
            .values(status="superseded", superseded_at=now)
        )
    if to_restore:
        conn.execute(
            update(batch)
            .where(batch.c.id.in_(to_restore))
            .values(status="published", superseded_at=None)
        )


def _owners(rows: Iterable[Any], start: date, end: date) -> list[tuple[int, date, date]]:
    """(batch id, from, to): which published file holds each date of [start, end] (rule 1),
    as maximal runs of days. Pure."""
    out: list[tuple[int, date, date]] = []
    taken: list[tuple[int, int]] = []
    lo, hi = start.toordinal(), end.toordinal()
    for r in sorted(rows, key=lambda r: r.delivery_order, reverse=True):
        s, e = max(lo, r.period_start.toordinal()), min(hi, r.period_end.toordinal())
        day = s
        while day <= e:
            blocker = next(((a, b) for a, b in taken if a <= day <= b), None)
            if blocker is not None:
                day = blocker[1] + 1
                continue
            nxt = min([a for a, _ in taken if a > day] + [e + 1])
            run_end = min(e, nxt - 1)
            out.append((r.id, date.fromordinal(day), date.fromordinal(run_end)))
            day = run_end + 1
        if s <= e:
            taken = _add_interval(taken, s, e)
    return out


def _live() -> Any:
    """Ledger rows whose rows count for rule 1: published (or superseded) deliveries, and
    those a backfill reopened (pending again after a publication): their rows stay current
    until the file is processed again, so they must still count as newer and as owners."""
    return or_(
        batch.c.status.in_(("published", "superseded")),
        and_(batch.c.status == "pending", batch.c.published_at.is_not(None)),
    )


def withdraw(conn: Connection, record: BatchRecord, now: datetime, *, published: bool) -> None:
    """Take a previously published delivery's rows out, and give its dates back to the files
    that held them before: the rows of their last publication (the ledger's `published_at`,
    the timestamp every row of that publication carries) are re-inserted as current,
    published now. Not the owner's newest rows: an earlier withdrawal may have re-inserted
    only some of its dates, later than the others."""
    target = source_table(record.source)
    withdrawn = conn.execute(
        update(target)
        .where(target.c.batch_id == record.id, target.c.superseded_at.is_(None))
        .values(superseded_at=now)
    ).rowcount
    # Decided by the ledger, not by the rows taken out: a delivery whose rows are all superseded
    # by newer files may still own dates where it has no rows; those go back too.
    if not withdrawn and not published:
        return
    others = conn.execute(
        select(batch.c.id, batch.c.delivery_order, batch.c.period_start, batch.c.period_end).where(
            batch.c.source == record.source,
            _live(),
            batch.c.id != record.id,
            batch.c.period_start <= record.period_end,
            batch.c.period_end >= record.period_start,
        )
    ).all()
    fields = [c.name for c in target.columns if c.name not in ("published_at", "superseded_at")]
    for owner, first, last in _owners(others, record.period_start, record.period_end):
        latest = select(batch.c.published_at).where(batch.c.id == owner).scalar_subquery()
        current = target.alias("current_rows")
        conn.execute(
            insert(target).from_select(
                [*fields, "published_at", "superseded_at"],
                select(
                    *(target.c[f] for f in fields),
                    literal(now, DateTime(timezone=True)),
                    cast(null(), DateTime(timezone=True)),
                ).where(
                    target.c.batch_id == owner,
                    target.c.published_at == latest,
                    target.c.partition_date.between(first, last),
                    ~exists().where(
                        current.c.batch_id == owner,
                        current.c.superseded_at.is_(None),
                        current.c.partition_date == target.c.partition_date,
                    ),
                ),
            )
        )


def supersede_older(conn: Connection, target: Table, record: BatchRecord, now: datetime) -> int:
    """Rule 1: rows of files delivered before this one (or of this very file, when it is
    re-processed) stop being current for the dates this file covers; how many did.

    A file's rows are dated inside its period (the connector rejects the others, `_withdraw`
    restores only dates of the owner's period), so only files whose period overlaps this one
    can hold such rows; they are listed from the ledger first, which keeps the UPDATE a single
    scan (a sub-select made PostgreSQL scan the source table once per older file: quadratic
    over a year) and skips it for a file of a new period. This file itself counts only if it
    ever had current rows (published_at is cleared when a delivery is quarantined, and its
    rows are then no longer current).
    """
    older = [
        r.id
        for r in conn.execute(
            select(batch.c.id, batch.c.published_at).where(
                batch.c.source == record.source,
                batch.c.delivery_order <= record.delivery_order,
                batch.c.period_start <= record.period_end,
                batch.c.period_end >= record.period_start,
            )
        )
        if r.id != record.id or r.published_at is not None
    ]
    if not older:
        return 0
    return int(
        conn.execute(
            update(target)
            .where(
                target.c.superseded_at.is_(None),
                target.c.partition_date.between(record.period_start, record.period_end),
                target.c.batch_id.in_(older),
            )
            .values(superseded_at=now)
        ).rowcount
    )


def newer_periods(conn: Connection, record: BatchRecord) -> list[tuple[date, date]]:
    """Rule 2: the parts of this file's period covered by published (or superseded) files of
    the same source delivered after it, as merged date intervals. Pure ledger lookup."""
    merged: list[tuple[int, int]] = []
    for r in conn.execute(
        select(batch.c.period_start, batch.c.period_end).where(
            batch.c.source == record.source,
            _live(),
            batch.c.delivery_order > record.delivery_order,
            batch.c.period_start <= record.period_end,
            batch.c.period_end >= record.period_start,
        )
    ):
        merged = _add_interval(merged, r.period_start.toordinal(), r.period_end.toordinal())
    return [(date.fromordinal(s), date.fromordinal(e)) for s, e in merged]
