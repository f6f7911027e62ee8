"""Publishing copies the rows straight into the source table: the stage schema from pandas or
Arrow, lineage columns computed in Arrow (rule 2 included), the same rows on both backends."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sqlalchemy import Engine, select
from warehouse_factory import make_batch

from connectors.canonical import canonical_schema
from connectors.sources import SOURCES
from warehouse.ledger import order_deliveries, register_deliveries
from warehouse.load import stage_frame
from warehouse.publish import publish_batch
from warehouse.schema import batch, source_table

JAN = (date(2024, 1, 1), date(2024, 1, 31))
Q1 = (date(2024, 1, 1), date(2024, 3, 31))


def as_arrow(b: Any) -> Any:
    return dataclasses.replace(b, accepted=stage_frame(SOURCES[b.source], b.accepted))


# --- stage_frame -----------------------------------------------------------------------------


def test_stage_frame_takes_an_arrow_table_as_is() -> None:
    source = SOURCES["cases"]
    table = stage_frame(source, make_batch("cases", *JAN).accepted)
    assert table.schema == canonical_schema(source)
    shuffled = table.select(list(reversed(table.column_names))).append_column(
        "extra", pa.array(["x"] * table.num_rows)
    )
    again = stage_frame(source, shuffled)
    assert again.equals(table)
    buffers = (t.column("case_no").chunks[0].buffers()[2].address for t in (again, shuffled))
    assert len(set(buffers)) == 1  # selected, not copied


def test_stage_frame_casts_arrow_columns_safely() -> None:
    source = SOURCES["cases"]
    table = stage_frame(source, make_batch("cases", *JAN).accepted)
    n = table.num_rows
    midnight = pa.array(
        [datetime(d.year, d.month, d.day) for d in table.column("partition_date").to_pylist()],
        pa.timestamp("us"),
    )
    loose = (
        table.set_column(0, "line", table.column("line").cast(pa.int32()))
        .set_column(1, "partition_date", midnight)
        .set_column(
            table.schema.get_field_index("case_no"),
            "case_no",
            table.column("case_no").cast(pa.large_string()).dictionary_encode(),
        )
        .set_column(
            table.schema.get_field_index("penalty_yuan"),
            "penalty_yuan",
            pa.array([Decimal("1.5")] * n, pa.decimal128(10, 2)),
        )
    )
    cast = stage_frame(source, loose)
    assert cast.schema == canonical_schema(source)
    assert cast.column("partition_date").equals(table.column("partition_date"))
    assert cast.column("case_no").to_pylist() == table.column("case_no").to_pylist()
    assert set(cast.column("penalty_yuan").to_pylist()) == {Decimal("1.5")}

    with_time = loose.set_column(
        1, "partition_date", pc.add(midnight, pa.scalar(1, pa.duration("us")))
    )
    with pytest.raises(ValueError, match="time of day"):
        stage_frame(source, with_time)
    too_fine = loose.set_column(
        table.schema.get_field_index("penalty_yuan"),
        "penalty_yuan",
        pa.array([Decimal("1.23456")] * n, pa.decimal128(10, 5)),
    )
    with pytest.raises(pa.ArrowInvalid):
        stage_frame(source, too_fine)
    with pytest.raises(ValueError, match="lack columns"):
        stage_frame(source, table.drop_columns(["case_no"]))
    assert stage_frame(source, table.slice(0, 0)).schema == canonical_schema(source)


def test_stage_frame_refuses_a_time_of_day_from_pandas_too() -> None:
    source = SOURCES["registration"]
    frame = make_batch("registration", *JAN).accepted
    if isinstance(frame, pa.Table):
        frame = frame.to_pandas()
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]) + pd.Timedelta(hours=8)
    with pytest.raises(ValueError, match="time of day"):
        stage_frame(source, frame)


# --- publishing ------------------------------------------------------------------------------


def data_rows(engine: Engine, source: str, batch_id: int) -> list[tuple[Any, ...]]:
    t = source_table(source)
    data = [c for c in t.columns if c.name not in ("batch_id", "published_at", "superseded_at")]
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(select(*data).where(t.c.batch_id == batch_id).order_by(t.c.line))
        ]


@pytest.mark.parametrize("source", ["cases", "registration", "ip_pledge"])
def test_arrow_and_pandas_batches_publish_the_same_rows(engine: Engine, source: str) -> None:
    frame_batch = make_batch(source, *JAN, tag="same")
    arrow_batch = as_arrow(make_batch(source, *JAN, version=2, tag="same"))
    records = register_deliveries(engine, order_deliveries([frame_batch, arrow_batch]))
    for b, r in zip(order_deliveries([frame_batch, arrow_batch]), records, strict=True):
        assert publish_batch(engine, b, r).status in ("published", "superseded")
    first, second = (data_rows(engine, source, r.id) for r in records)
    assert first and first == second


def lineage(engine: Engine, batch_id: int) -> dict[date, set[str]]:
    """partition date -> {"current"} / {"superseded at publish"} for one batch's rows."""
    t = source_table("registration")
    with engine.connect() as conn:
        published = conn.execute(
            select(batch.c.published_at).where(batch.c.id == batch_id)
        ).scalar_one()
        rows = conn.execute(
            select(t.c.partition_date, t.c.published_at, t.c.superseded_at).where(
                t.c.batch_id == batch_id
            )
        ).all()
    out: dict[date, set[str]] = {}
    for day, pub, sup in rows:
        assert pub == published  # every row carries the ledger's instant exactly
        state = "current" if sup is None else "superseded at publish"
        assert sup is None or sup == pub
        out.setdefault(day, set()).add(state)
    return out


def test_rule2_rows_in_newer_periods_are_inserted_superseded(engine: Engine) -> None:
    """A quarter delivered before a January and a March file, but published after them
    (a resumed run): only its February rows become current."""
    q1 = make_batch("registration", *Q1, tag="q1")
    [rec_q1] = register_deliveries(engine, [q1])
    jan = make_batch("registration", *JAN, tag="jan")
    mar = make_batch("registration", date(2024, 3, 1), date(2024, 3, 31), tag="mar")
    rec_jan, rec_mar = register_deliveries(engine, [jan, mar])
    assert rec_q1.delivery_order < rec_jan.delivery_order < rec_mar.delivery_order
    for b, r in ((jan, rec_jan), (mar, rec_mar), (as_arrow(q1), rec_q1)):
        assert publish_batch(engine, b, r).status == "published"
    states = lineage(engine, rec_q1.id)
    assert states and all(len(s) == 1 for s in states.values())
    for day, state in states.items():
        assert state == ({"current"} if day.month == 2 else {"superseded at publish"}), day
    assert all(s == {"current"} for s in lineage(engine, rec_jan.id).values())
    assert all(s == {"current"} for s in lineage(engine, rec_mar.id).values())


def test_sqlite_rows_are_inserted_a_bounded_chunk_at_a_time(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each executemany on SQLite holds at most SQLITE_CHUNK_ROWS rows as Python tuples (the
    bound on the publisher's memory there), and the chunks together are every row."""
    from sqlalchemy import event

    import warehouse.load as load
    from warehouse.engine import open_warehouse

    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setattr(load, "SQLITE_CHUNK_ROWS", 4)
    target = source_table("registration").name
    sizes: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if many and statement.startswith(f"INSERT INTO {target} "):
            sizes.append(len(params))

    b = as_arrow(make_batch("registration", *JAN))
    [record] = register_deliveries(engine, [b])
    assert publish_batch(engine, b, record).status == "published"
    assert b.rows_accepted > 8
    assert max(sizes) == 4 and sum(sizes) == b.rows_accepted
    assert len(data_rows(engine, "registration", record.id)) == b.rows_accepted
    engine.dispose()
