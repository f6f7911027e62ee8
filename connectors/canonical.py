"""The canonical form of a source's accepted rows: one Arrow schema per source.

The connector hands accepted rows over in this form and the warehouse loads it as is, so the
rows are typed once (compact Arrow columns, not Python objects) and never re-converted.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.sources import Source
from connectors.values import AMOUNT_DIGITS, AMOUNT_SCALE, TEXT

DECIMAL_TYPE = pa.decimal128(AMOUNT_DIGITS, AMOUNT_SCALE)  # the warehouse's NUMERIC(20, 4)
LEADING = ("line", "partition_date")


def arrow_type(kind: str) -> pa.DataType:
    """The Arrow type of a declared column type."""
    if kind in ("text", "enum"):
        return pa.string()
    if kind == "bool":
        return pa.bool_()
    if kind in ("date", "epoch_ms_date", "month"):
        return pa.date32()
    if kind == "int":
        return pa.int64()
    if kind == "decimal":
        return DECIMAL_TYPE
    raise ValueError(f"no canonical type for column type {kind!r}")


def canonical_schema(source: Source) -> pa.Schema:
    """line, partition_date, then the declared fields in declaration order."""
    return pa.schema(
        [
            pa.field("line", pa.int64()),
            pa.field("partition_date", pa.date32()),
            *(pa.field(c.field, arrow_type(c.type)) for c in source.columns),
        ]
    )


def empty_table(source: Source) -> pa.Table:
    return canonical_schema(source).empty_table()


def arrow_column(values: pd.Series, target: pa.DataType) -> pa.Array:
    """One frame column as an Arrow array of `target`; never rounds a decimal."""
    if len(values) == 0:
        return pa.array([], type=target)
    arr = pa.Array.from_pandas(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return cast_column(arr, target)


def cast_column(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Safe casts only: raises instead of losing digits, precision or a time of day."""
    if arr.type == target:
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), type=target)
    if pa.types.is_timestamp(arr.type) and target == pa.date32():
        if arr.type.tz is not None:
            arr = arr.cast(pa.timestamp(arr.type.unit))  # the UTC wall time
        # Arrow's timestamp -> date32 cast truncates silently, even when "safe".
        if pc.all(pc.equal(pc.floor_temporal(arr, unit="day"), arr)).as_py() is False:
            raise ValueError("timestamps with a time of day cannot be stored as dates")
        return arr.cast(pa.date32())
    if pa.types.is_decimal(target) and not pa.types.is_decimal(arr.type):
        # Text or integers: go through Decimal, exactly.
        return pa.array(
            [None if v is None else Decimal(str(v)) for v in arr.to_pylist()], type=target
        )
    return arr.cast(target)  # safe cast: raises instead of losing digits or precision


def canonical_table(source: Source, data: pd.DataFrame | pa.Table) -> pa.Table:
    """Accepted rows in the canonical schema: a pandas frame converted column by column, a
    `pyarrow.Table` (the connector's own form) with its columns selected by name and cast only
    where the type differs, without going through pandas."""
    schema = canonical_schema(source)
    if len(data) == 0:
        return schema.empty_table()
    have = data.column_names if isinstance(data, pa.Table) else list(data.columns)
    missing = [n for n in schema.names if n not in have]
    if missing:
        raise ValueError(f"{source.code}: accepted rows lack columns {missing}")
    if isinstance(data, pa.Table):
        if data.schema.equals(schema):
            return data
        columns = []
        for f in schema:
            col = data.column(f.name)
            if col.type != f.type:
                col = pa.chunked_array([cast_column(c, f.type) for c in col.chunks], type=f.type)
            columns.append(col)
        return pa.Table.from_arrays(columns, schema=schema)
    return pa.Table.from_arrays([arrow_column(data[f.name], f.type) for f in schema], schema=schema)


def to_frame(table: pa.Table, *, date_as_object: bool = True) -> pd.DataFrame:
    """The canonical table as pandas: nullable Int64/boolean, text as str, amounts as
    `Decimal`, dates as python `date` (tests, the demo calibration) or, with
    `date_as_object=False`, as datetime64 (what Great Expectations compares vectorized)."""
    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(), pa.string(): TEXT}
    return table.to_pandas(types_mapper=mapping.get, date_as_object=date_as_object)
