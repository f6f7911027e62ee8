"""Reading the batch ledger and the reject store (issue 8): what `status` and `rejects` show.

The shapes returned here are the JSON contract (docs/status.schema.json): one entry per
delivered content, newest delivery last, times in the bureau's zone (Asia/Shanghai).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select

from connectors.bureau_time import BUREAU_TZ
from warehouse.schema import LEDGER_STATUSES, batch, reject


def local_time(value: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, to the second (stored values are UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BUREAU_TZ).isoformat(timespec="seconds")


def batch_entry(row: Any) -> dict[str, Any]:
    """One ledger row in the issue-8 shape."""
    return {
        "file": row.file,
        "source": row.source,
        "sha256": row.sha256,
        "delivery_order": row.delivery_order,
        "period": [row.period_start.isoformat(), row.period_end.isoformat()],
        "version": row.version,
        "status": row.status,
        "rows_read": row.rows_read,
        "rows_accepted": row.rows_accepted,
        "rows_rejected": row.rows_rejected,
        "rows_duplicate": row.rows_duplicate,
        "reason": row.reason if row.status == "quarantined" else None,
        "detail": row.detail if row.status == "quarantined" else None,
        "first_seen_at": local_time(row.first_seen_at),
    }


def list_batches(
    engine: Engine, source: str | None = None, *, include_pending: bool = False
) -> list[dict[str, Any]]:
    """Every delivery in the ledger (optionally of one source), oldest delivery first.

    Files registered but never finished (a killed run; resumed by the next one) are `pending`
    and left out unless asked for: the published state of the warehouse does not include them.
    """
    statuses = (*LEDGER_STATUSES, "pending") if include_pending else LEDGER_STATUSES
    query = select(batch).where(batch.c.status.in_(statuses)).order_by(batch.c.delivery_order)
    if source is not None:
        query = query.where(batch.c.source == source)
    with engine.connect() as conn:
        return [batch_entry(r) for r in conn.execute(query).all()]


def status_document(engine: Engine, source: str | None = None) -> dict[str, Any]:
    """`bureau-stats status --json`: {"batches": [...]}."""
    return {"batches": list_batches(engine, source)}


def find_deliveries(engine: Engine, file: str) -> list[dict[str, Any]]:
    """Ledger entries for a file given as relative path (`registration/x.csv`) or bare name,
    newest delivery first (the same name may have been delivered with different content)."""
    wanted = file.replace("\\", "/").strip("/")
    query = (
        select(batch)
        .where(or_(batch.c.file == wanted, batch.c.name == wanted))
        .order_by(batch.c.delivery_order.desc())
    )
    with engine.connect() as conn:
        return [{**batch_entry(r), "id": r.id} for r in conn.execute(query).all()]


def count_rejects(engine: Engine, file: str) -> int:
    ids = [d["id"] for d in find_deliveries(engine, file)]
    if not ids:
        return 0
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(reject).where(reject.c.batch_id.in_(ids))
            ).scalar_one()
        )


def list_rejects(engine: Engine, file: str, limit: int | None = 100) -> list[dict[str, Any]]:
    """Rejected rows of a file (newest delivery first, then by line): line number, reason code,
    offending column and the raw cells (personal data masked and hashed by the connector)."""
    deliveries = find_deliveries(engine, file)
    if not deliveries:
        return []
    by_id = {d["id"]: d for d in deliveries}
    query = (
        select(batch.c.delivery_order, reject)
        .join(batch, batch.c.id == reject.c.batch_id)
        .where(reject.c.batch_id.in_(list(by_id)))
        .order_by(batch.c.delivery_order.desc(), reject.c.line, reject.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for r in rows:
        delivery = by_id[r.batch_id]
        out.append(
            {
                "file": delivery["file"],
                "sha256": delivery["sha256"],
                "delivery_order": r.delivery_order,
                "line": r.line,
                "reason": r.reason,
                "column": r.column,
                "raw": _raw_cells(r.raw),
            }
        )
    return out


def first_rejects(engine: Engine, batch_id: int, limit: int) -> list[dict[str, Any]]:
    """The first `limit` rejected rows of one delivery, by line: what a run's artifact shows.
    Set-based and bounded (an index on batch_id, a LIMIT): a file's reject store can hold a
    large share of its rows, and every file of a run asks."""
    query = (
        select(reject.c.line, reject.c.reason, reject.c.column, reject.c.raw)
        .where(reject.c.batch_id == batch_id)
        .order_by(reject.c.line, reject.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            {"line": r.line, "reason": r.reason, "column": r.column, "raw": _raw_cells(r.raw)}
            for r in conn.execute(query).all()
        ]


def _raw_cells(raw: str) -> dict[str, Any]:
    """A stored reject's cells (header -> text), or the stored text under "" if not JSON."""
    try:
        cells: dict[str, Any] = json.loads(raw)
    except ValueError:
        return {"": raw}
    return cells
