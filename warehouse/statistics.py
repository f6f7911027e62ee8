"""Planner statistics of the source tables a run has just loaded.

A table filled by COPY has no statistics until autovacuum gets to it, a minute or more later,
and the refresh right after a run was planned for one row: the registration lineage sorted
1.3 M rows on disk instead of hashing them per batch, and the report of 2024 at --scale 30 of
the workbook-heavy year spent 4.0 s in SQL instead of 2.1 (bench/NOTES.md, session 17).

A small sample is enough for those plans: statistics target 10 reads about 3,000 rows,
~25 ms a table against ~330 ms at the default 100. The sample stays until the table's next
ANALYZE (autovacuum's after further changes, or the next run that loads the table).

Statistics only make the refresh faster, never its figures different: a failed ANALYZE is
logged and the run goes on without them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from warehouse.schema import source_table

SAMPLE_TARGET = 10  # default_statistics_target of the ANALYZE (300 rows per unit)

log = logging.getLogger(__name__)


def analyze_sources(engine: Engine, sources: Iterable[str]) -> list[str]:
    """ANALYZE the source tables of `sources` on PostgreSQL (one transaction); returns the
    tables analyzed. SQLite's planner needs none for these queries, so nothing there."""
    codes = sorted(set(sources))
    if engine.dialect.name != "postgresql" or not codes:
        return []
    tables = [source_table(code) for code in codes]
    try:
        with engine.begin() as conn:
            prep = conn.dialect.identifier_preparer
            conn.exec_driver_sql(f"SET LOCAL default_statistics_target = {SAMPLE_TARGET}")
            for table in tables:
                conn.exec_driver_sql(f"ANALYZE {prep.format_table(table)}")
    except DBAPIError as exc:
        log.warning(
            "planner statistics not taken (%s); the refresh runs without them",
            type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
        )
        return []
    names = [table.name for table in tables]
    log.info("planner statistics taken: %s", ", ".join(names))
    return names
