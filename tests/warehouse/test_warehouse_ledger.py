"""The ledger read side: issue-8 shape, JSON Schema, rejects, and the pure status rule."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import jsonschema
from sqlalchemy import Engine
from warehouse_factory import make_batch

from warehouse.ledger import load_record, order_deliveries, register_deliveries, reopen_delivery
from warehouse.publish import publish_batch
from warehouse.status import (
    find_deliveries,
    first_rejects,
    list_batches,
    list_rejects,
    local_time,
    status_document,
)
from warehouse.supersession import ledger_statuses

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "status.schema.json").read_text()
)
JAN = (date(2024, 1, 1), date(2024, 1, 31))


def _load(engine: Engine) -> None:
    batches = [
        make_batch("registration", *JAN),
        make_batch("registration", *JAN, version=2),
        make_batch("registration", date(2024, 2, 1), date(2024, 2, 29), rejected=5),
        make_batch("cases", *JAN, rejected=0, duplicates=1),
        make_batch("special_equipment", *JAN, verdict="quarantine", reason="truncated"),
    ]
    ordered = order_deliveries(batches)
    for b, r in zip(ordered, register_deliveries(engine, ordered), strict=True):
        publish_batch(engine, b, r)


def test_status_document_matches_issue_8_and_schema(engine: Engine) -> None:
    _load(engine)
    doc = status_document(engine)
    jsonschema.validate(doc, SCHEMA)
    batches = doc["batches"]
    assert [b["delivery_order"] for b in batches] == sorted(b["delivery_order"] for b in batches)
    by_file = {b["file"]: b for b in batches}
    v1 = by_file["registration/经营主体登记业务明细_20240101-20240131.csv"]
    assert v1["status"] == "superseded" and v1["reason"] is None
    assert v1["period"] == ["2024-01-01", "2024-01-31"] and v1["version"] == 1
    assert v1["first_seen_at"].endswith("+08:00")
    feb = by_file["registration/经营主体登记业务明细_20240201-20240229.csv"]
    assert (feb["status"], feb["reason"], feb["rows_rejected"]) == (
        "quarantined",
        "reject_share",
        5,
    )
    assert list(batches[0]) == [
        "file",
        "source",
        "sha256",
        "delivery_order",
        "period",
        "version",
        "status",
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "rows_duplicate",
        "reason",
        "detail",  # beside the reason: what lay behind a quarantine (issue 25 item 6)
        "first_seen_at",
    ]
    assert {b["source"] for b in list_batches(engine, "cases")} == {"cases"}


def test_pending_deliveries_are_not_reported(engine: Engine) -> None:
    register_deliveries(engine, [make_batch("registration", *JAN)])
    assert list_batches(engine) == []
    assert [b["status"] for b in list_batches(engine, include_pending=True)] == ["pending"]


def test_rejects_by_relative_path_or_bare_name(engine: Engine) -> None:
    _load(engine)
    name = "经营主体登记业务明细_20240201-20240229.csv"
    by_name = list_rejects(engine, name, limit=3)
    assert by_name == list_rejects(engine, f"registration/{name}", limit=3)
    assert [r["line"] for r in by_name] == [1000, 1001, 1002]
    first = by_name[0]
    assert set(first) == {"file", "sha256", "delivery_order", "line", "reason", "column", "raw"}
    assert first["reason"] == "bad_date" and first["column"] == "核准日期"
    assert isinstance(first["raw"], dict)
    assert list_rejects(engine, "nothing.csv", limit=3) == []


def test_first_rejects_of_one_delivery(engine: Engine) -> None:
    """A run's artifact takes a delivery's first rejects by line, LIMIT-ed in SQL."""
    _load(engine)
    name = "经营主体登记业务明细_20240201-20240229.csv"
    (delivery,) = find_deliveries(engine, name)
    first = first_rejects(engine, delivery["id"], 2)
    listed = list_rejects(engine, name, limit=2)
    assert [r["line"] for r in first] == [1000, 1001]
    assert first == [{k: r[k] for k in ("line", "reason", "column", "raw")} for r in listed]
    assert len(first_rejects(engine, delivery["id"], 50)) == len(list_rejects(engine, name, None))
    assert first_rejects(engine, delivery["id"] + 1000, 2) == []


def test_local_time_is_shanghai() -> None:
    assert local_time(datetime(2024, 5, 2, 18, 0, 7, tzinfo=UTC)) == "2024-05-03T02:00:07+08:00"
    assert local_time(datetime(2024, 5, 2, 18, 0, 7)) == "2024-05-03T02:00:07+08:00"  # naive = UTC


def _row(i: int, order: int, start: date, end: date) -> SimpleNamespace:
    return SimpleNamespace(id=i, delivery_order=order, period_start=start, period_end=end)


def test_ledger_status_rule() -> None:
    q1 = _row(1, 1, date(2024, 1, 1), date(2024, 3, 31))
    jan = _row(2, 2, date(2024, 1, 1), date(2024, 1, 31))
    feb = _row(3, 3, date(2024, 2, 1), date(2024, 2, 29))
    assert ledger_statuses([q1, jan, feb]) == {1: "published", 2: "published", 3: "published"}
    mar = _row(4, 4, date(2024, 3, 1), date(2024, 3, 31))
    # Adjacent newer periods together cover the quarter.
    assert ledger_statuses([q1, jan, feb, mar])[1] == "superseded"
    old_feb = _row(5, 0, date(2024, 2, 1), date(2024, 2, 29))
    assert ledger_statuses([old_feb, feb])[5] == "superseded"
    assert ledger_statuses([feb, old_feb])[3] == "published"


def test_reopen_delivery_keeps_its_order_until_processed_again(engine: Engine) -> None:
    b = make_batch("cases", *JAN, rejected=0)
    (r,) = register_deliveries(engine, [b])
    publish_batch(engine, b, r)
    assert reopen_delivery(engine, r.id)
    (entry,) = list_batches(engine, include_pending=True)
    assert (entry["status"], entry["delivery_order"], entry["rows_read"]) == (
        "pending",
        r.delivery_order,
        b.rows_read,
    )
    assert list_batches(engine) == []  # pending again: not part of the published state
    publish_batch(engine, b, load_record(engine, r.id, "resumed"))
    assert [(e["status"], e["delivery_order"]) for e in list_batches(engine)] == [
        ("published", r.delivery_order)
    ]
    assert not reopen_delivery(engine, r.id + 1000)
