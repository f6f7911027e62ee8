"""Each delivered file's warnings, kept in the ledger (`delivery_warning`): what `status --json`
shows next to the file's accounting. Rules and counts only, never a cell."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from connectors.file_warnings import summarize
from warehouse.engine import writer
from warehouse.schema import batch, delivery_warning
from warehouse.status import list_batches

log = logging.getLogger(__name__)


def record_warnings(engine: Engine, batch_id: int, lines: Iterable[str]) -> None:
    """Replace the file's warnings with those of this processing (none clears them).

    After the file's own transaction: a failure here is logged, never the file's failure."""
    rows = [{"batch_id": batch_id, **w.to_dict()} for w in summarize(lines)]
    try:
        with writer(engine) as conn:
            conn.execute(delete(delivery_warning).where(delivery_warning.c.batch_id == batch_id))
            if rows:
                conn.execute(insert(delivery_warning), rows)
    except SQLAlchemyError as exc:
        log.warning("warnings of delivery %s not recorded (%s)", batch_id, type(exc).__name__)


def warnings_by_delivery(engine: Engine) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(source, sha256) -> the file's warnings, in the order they were found."""
    w = delivery_warning
    query = (
        select(batch.c.source, batch.c.sha256, w.c.rule, w.c.column, w.c.rows)
        .join(batch, batch.c.id == w.c.batch_id)
        .order_by(w.c.id)
    )
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            out.setdefault((r.source, r.sha256), []).append(
                {"rule": r.rule, "column": r.column, "rows": r.rows}
            )
    return out


def ledger_with_warnings(engine: Engine, source: str | None = None) -> list[dict[str, Any]]:
    """`list_batches` with each entry's `warnings` (an empty list when it has none)."""
    found = warnings_by_delivery(engine)
    return [
        {**b, "warnings": found.get((b["source"], b["sha256"]), [])}
        for b in list_batches(engine, source)
    ]
