"""The sources delivered for a window, from the batch ledger: the scans a window cannot need.

The contract rejects a row whose partition date lies outside its file's declared period, and
rows reach a source table only by publishing a file. So a source without a delivery whose
declared period overlaps a window holds no row with a partition date inside it, and a figure
dated by that column counts nothing there. Its scan is skipped: a whole source table, since
nothing prunes it before its BRIN ranges are summarized. The year refreshed beside the one
delivered (the previous year of a district's first exports, or of `ip_stats`'s monthly files
reaching a year back), and every year-on-year comparison with it, then costs its scans only
for the sources delivered for it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.engine import Connection

from connectors.sources import SOURCES
from metrics.catalog import Metric
from warehouse.schema import batch

# The aggregates over a window's rows; a latest-month figure reads one row and is not skipped.
WINDOW_AGGREGATES = frozenset({"count", "count_distinct", "sum"})


def delivered_sources(conn: Connection, start: date, end: date) -> frozenset[str]:
    """Sources with a delivery (any status) whose declared period overlaps [start, end]."""
    overlapping = (
        select(batch.c.source)
        .where(batch.c.period_start <= end, batch.c.period_end >= start)
        .distinct()
    )
    return frozenset(conn.execute(overlapping).scalars())


def may_count(metric: Metric, delivered: frozenset[str]) -> bool:
    """Whether a row metric can count a row of the window: False only for a window aggregate
    dated by its source's partition column when that source was not delivered for it."""
    if metric.source is None or metric.aggregate.kind not in WINDOW_AGGREGATES:
        return True
    if metric.date != SOURCES[metric.source].partition_field:
        return True
    return metric.source in delivered
