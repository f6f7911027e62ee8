"""Loading rows into the warehouse: accepted rows as Arrow tables, straight into the source
table (COPY on PostgreSQL, batched executemany on SQLite) with their lineage columns computed
in Arrow beforehand, and the reject store. Runs inside the caller's transaction.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Column, Connection, DateTime, MetaData, Table, delete, insert
from sqlalchemy.dialects import sqlite

from connectors.canonical import arrow_column, canonical_table
from connectors.sources import Source
from connectors.spool import SpooledRows, chunks
from warehouse.schema import AMOUNT_SCALE, reject, source_table

STAGE_CHUNK_ROWS = 65_536  # rows per CSV chunk streamed into COPY
# rows per executemany on SQLite: each row is a tuple of Python objects there (~0.5 KiB a row
# with its column lists), so a smaller chunk bounds that copy at a few MiB at no cost in speed
SQLITE_CHUNK_ROWS = 8_192
PUBLISH_CHUNK_ROWS = 65_536  # accepted rows converted and loaded at a time (bounds memory)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")  # published_at / superseded_at


def stage_frame(source: Source, accepted: pd.DataFrame | pa.Table | SpooledRows) -> pa.Table:
    """The accepted rows as an Arrow table: line, partition_date, then the declared fields
    (safe casts only: never a lost digit or time of day)."""
    if isinstance(accepted, SpooledRows):
        accepted = accepted.read_all()
    return canonical_table(source, accepted)


def stage_chunks(
    source: Source, accepted: pd.DataFrame | pa.Table | SpooledRows
) -> Iterator[pa.Table]:
    """`stage_frame` a bounded number of rows at a time (a spooled file is never read whole)."""
    for chunk in chunks(accepted, PUBLISH_CHUNK_ROWS):
        yield canonical_table(source, chunk)


def _distinct_as_text(col: pa.ChunkedArray | pa.Array, show: Callable[[Any], Any]) -> pa.Array:
    """A column whose values repeat (a batch's timestamps) through `show`, each distinct
    value converted once; `show` returns text (or an int), None stays None."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    encoded = col.dictionary_encode()
    shown = pa.array([None if v is None else show(v) for v in encoded.dictionary.to_pylist()])
    return shown.take(encoded.indices)


def _csv_chunks(table: pa.Table) -> Iterator[bytes]:
    """CSV text for COPY, written vectorized by Arrow (strings quoted, NULL = empty field)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            # Arrow's CSV writer formats zoned timestamps slowly (~2 s per million values):
            # the few distinct instants of a batch are formatted once instead.
            text_ = _distinct_as_text(table.column(i), lambda v: v.isoformat(sep=" "))
            table = table.set_column(i, field.name, text_)
    options = pacsv.WriteOptions(include_header=False)
    for chunk in table.to_batches(max_chunksize=STAGE_CHUNK_ROWS):
        buf = io.BytesIO()
        pacsv.write_csv(chunk, buf, options)
        yield buf.getvalue()


def _sqlite_datetime(value: datetime) -> str:
    """A timestamp as SQLAlchemy stores it on SQLite (the same text, so `=` still matches)."""
    dialect = sqlite.dialect()
    shown = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert shown is not None
    return str(shown(value))


def _python_columns(table: pa.Table) -> list[list[Any]]:
    """Arrow columns as the values SQLAlchemy would store on SQLite (dates ISO, amounts scaled,
    timestamps as SQLAlchemy's text)."""
    out: list[list[Any]] = []
    for col in table.columns:
        if pa.types.is_date(col.type):
            out.append(col.cast(pa.string()).to_pylist())
        elif pa.types.is_decimal(col.type):
            out.append(
                [None if v is None else int(v.scaleb(AMOUNT_SCALE)) for v in col.to_pylist()]
            )
        elif pa.types.is_timestamp(col.type):
            # A batch's timestamps are a few instants (published_at, superseded_at).
            out.append(_distinct_as_text(col, _sqlite_datetime).to_pylist())
        else:
            out.append(col.to_pylist())
    return out


def bulk_load(conn: Connection, table: Table, data: pa.Table) -> None:
    """Load an Arrow table into `table` (columns by name): COPY on PostgreSQL, executemany on
    SQLite. Never one INSERT per row from Python on PostgreSQL."""
    if data.num_rows == 0:
        return
    names = data.column_names
    if conn.dialect.name == "postgresql":
        prep = conn.dialect.identifier_preparer
        target = prep.format_table(table)
        cols = ", ".join(prep.quote(n) for n in names)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {target} ({cols}) FROM STDIN (FORMAT csv)") as copy:
            for chunk in _csv_chunks(data):
                copy.write(chunk)
        return
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=names)
    order = list(compiled.positiontup or [])  # qmark parameters, in the statement's order
    data = data.select(order)
    sql = str(compiled)
    for chunk in data.to_batches(max_chunksize=SQLITE_CHUNK_ROWS):
        rows = list(zip(*_python_columns(pa.Table.from_batches([chunk])), strict=True))
        conn.exec_driver_sql(sql, rows)  # type: ignore[arg-type]
        del rows


def staging_table(source: Source, name: str, *, temporary: bool = True) -> Table:
    """A table shaped like the source table's data columns: line, partition_date, fields.

    Publishing no longer stages (it copies straight into the source table); the benchmarks
    use this for their bare comparison tables. Temporary by default (session-local, not
    WAL-logged; dropped at commit on PostgreSQL).
    """
    target = source_table(source.code)
    columns = [
        Column(c.name, c.type)
        for c in target.columns
        if c.name not in ("batch_id", "published_at", "superseded_at")
    ]
    if not temporary:
        return Table(name, MetaData(), *columns)
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


def with_lineage(
    data: pa.Table,
    batch_id: int,
    now: datetime,
    newer: list[tuple[date, date]],
    *,
    stamped: bool,
) -> pa.Table:
    """The staged rows with the source table's lineage columns, computed in Arrow.

    `batch_id` and `published_at` (`now`) are constants; with `stamped=False` `published_at`
    is left out for the table's default to fill (PostgreSQL: the publish transaction's start,
    which is `now`; a per-row timestamp costs COPY about a third of its time).
    `superseded_at` is `now` for rows whose partition date lies in a period of a file
    delivered after this one (rule 2, `newer`), and is left out (NULL) when no row does.
    """
    n = data.num_rows
    lineage = data.add_column(0, "batch_id", pa.repeat(pa.scalar(batch_id, pa.int64()), n))
    at = pa.scalar(now, TIMESTAMP_TYPE)
    if stamped:
        lineage = lineage.add_column(3, "published_at", pa.repeat(at, n))
    days = data.column("partition_date")
    covered: Any = None
    for start, end in newer:
        inside = pc.and_(
            pc.greater_equal(days, pa.scalar(start, pa.date32())),
            pc.less_equal(days, pa.scalar(end, pa.date32())),
        )
        covered = inside if covered is None else pc.or_(covered, inside)
    if covered is not None and pc.any(covered).as_py():
        superseded = pc.if_else(covered, at, pa.scalar(None, TIMESTAMP_TYPE))
        lineage = lineage.append_column("superseded_at", superseded)
    return lineage


def store_rejects(conn: Connection, batch_id: int, rejects: pd.DataFrame) -> None:
    """The batch's rejected rows (raw already masked and hashed by the connector)."""
    conn.execute(delete(reject).where(reject.c.batch_id == batch_id))
    if rejects is None or len(rejects) == 0:
        return
    n = len(rejects)
    data = pa.Table.from_arrays(
        [
            pa.array([batch_id] * n, type=pa.int64()),
            arrow_column(rejects["line"].reset_index(drop=True), pa.int64()),
            arrow_column(rejects["reason"].astype(object).reset_index(drop=True), pa.string()),
            arrow_column(
                rejects["column"]
                .astype(object)
                .where(rejects["column"].notna(), None)
                .reset_index(drop=True),
                pa.string(),
            ),
            arrow_column(rejects["raw"].astype(object).reset_index(drop=True), pa.string()),
        ],
        names=["batch_id", "line", "reason", "column", "raw"],
    )
    bulk_load(conn, reject, data)
