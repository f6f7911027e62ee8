"""`bureau-stats metrics` and `explain` on a migrated warehouse holding a few rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tiny_warehouse import add_batch, add_rows
from typer.testing import CliRunner

from bureau_stats.cli import load_commands
from bureau_stats.cli.app import app
from metrics.catalog import load_catalog

T1 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
T2 = datetime(2024, 8, 1, 2, 0, tzinfo=UTC)


def reg(on: date, channel: str) -> dict[str, object]:
    return {"txn_type": "设立登记", "channel": channel, "approved_on": on, "applied_on": on}


@pytest.fixture()
def warehouse(tmp_path: Path) -> Iterator[str]:
    from warehouse.engine import open_warehouse

    url = f"sqlite:///{tmp_path / 'wh.db'}"
    engine = open_warehouse(url)
    batch_id = add_batch(
        engine, "registration", "经营主体登记业务明细_20240101-20240630.csv", published_at=T1
    )
    add_rows(
        engine,
        "registration",
        [reg(date(2024, 2, 1), "网上办理")] * 2 + [reg(date(2024, 6, 1), "窗口办理")],
        batch_id=batch_id,
        published_at=T1,
    )
    add_rows(
        engine,
        "ip_pledge",
        [{"registered_on": date(2024, 7, 1), "amount_wan": Decimal("1250")}],
        published_at=T2,
    )
    engine.dispose()
    yield url


def run(*args: str) -> tuple[int, str]:
    load_commands()
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, list(args))
    return result.exit_code, result.output


def test_metrics_json_is_year_as_of_metrics_and_coverage(warehouse: str) -> None:
    code, out = run("metrics", "--year", "2024", "--json", "--warehouse", warehouse)
    assert code == 0, out
    doc = json.loads(out)
    assert set(doc) == {"year", "as_of", "metrics", "coverage"}  # coverage: test_report_coverage
    assert doc["year"] == 2024 and doc["as_of"] == "2024-12-31"
    assert list(doc["metrics"]) == load_catalog().codes
    m = doc["metrics"]
    assert m["reg.establish"] == 3 and isinstance(m["reg.establish"], int)
    assert m["reg.establish.online_share"] == 66.67
    assert m["pledge.amount_yi"] == 0.13  # 0.125 half-up
    assert m["ip.valid_invention.yoy"] is None and m["ip.patents_granted"] is None
    assert '"ip.valid_invention.yoy": null' in out
    # its ledger rows declare the whole year; nothing of food licences was ever delivered
    assert doc["coverage"]["reg.establish"] == {"complete": True, "missing": []}
    missing = doc["coverage"]["food.issued"]["missing"]
    assert [g["period"] for g in missing] == [f"2024-{month:02d}" for month in range(1, 13)]
    assert {(g["reason"], g["file"]) for g in missing} == {("not delivered", None)}


def test_metrics_as_of_and_as_known_at(warehouse: str) -> None:
    code, out = run(
        "metrics", "--year", "2024", "--as-of", "2024-05-31", "--json", "--warehouse", warehouse
    )
    assert code == 0, out
    doc = json.loads(out)
    assert doc["as_of"] == "2024-05-31" and doc["metrics"]["reg.establish"] == 2
    code, out = run(
        "metrics",
        "--year",
        "2024",
        "--as-known-at",
        "2024-07-01T00:00:00+08:00",
        "--json",
        "--warehouse",
        warehouse,
    )
    assert code == 0, out
    m = json.loads(out)["metrics"]
    assert m["reg.establish"] == 3 and m["pledge.count"] == 0
    code, out = run(
        "metrics",
        "--year",
        "2024",
        "--as-known-at",
        "2024-02-01",
        "--json",
        "--warehouse",
        warehouse,
    )
    assert json.loads(out)["metrics"]["reg.establish"] == 0


def test_metrics_table_shows_labels_and_units(warehouse: str) -> None:
    code, out = run("metrics", "--year", "2024", "--warehouse", warehouse)
    assert code == 0, out
    assert "设立登记网办率" in out and "66.67" in out and "无数据" in out


@pytest.mark.parametrize(
    "args",
    [
        ("--as-of", "2024-13-01"),
        ("--as-of", "2023-06-30"),  # before the report year: an empty window, no period
        ("--as-known-at", "yesterday"),
        ("--as-known-at", "0001-01-01T00:00:00"),  # before year 1 in UTC
        ("--as-known-at", "9999-12-31T23:59:59-05:00"),  # after 9999 in UTC
    ],
)
@pytest.mark.parametrize("command", [("metrics",), ("explain", "reg.establish")])
def test_bad_dates_are_usage_errors(
    warehouse: str, args: tuple[str, str], command: tuple[str, ...]
) -> None:
    code, out = run(*command, "--year", "2024", *args, "--warehouse", warehouse)
    assert code == 2, out
    assert "Traceback" not in out


@pytest.mark.parametrize("year", ["0", "1", "-5", "10000"])
def test_a_year_outside_the_calendar_is_a_usage_error(warehouse: str, year: str) -> None:
    code, out = run("metrics", "--year", year, "--warehouse", warehouse)
    assert code == 2, out


def test_explain_shows_value_definition_and_batches(warehouse: str) -> None:
    code, out = run(
        "explain", "reg.establish.online", "--year", "2024", "--json", "--warehouse", warehouse
    )
    assert code == 0, out
    doc = json.loads(out)
    assert doc["value"] == 2
    assert doc["definition"] == (
        "count of registration rows, txn_type = 设立登记, channel = 网上办理, approved_on in window"
    )
    (part,) = doc["batches"]
    assert part["file"] == "registration/经营主体登记业务明细_20240101-20240630.csv"
    assert part["rows"] == 2 and part["delivered_at"].startswith("2024-03-01T02:00")
    code, out = run("explain", "reg.establish", "--year", "2024", "--warehouse", warehouse)
    assert code == 0, out
    assert "20240101-20240630" in out and "approved_on in window" in out


def test_explain_unknown_metric_is_a_usage_error(warehouse: str) -> None:
    code, out = run("explain", "reg.nope", "--year", "2024", "--warehouse", warehouse)
    assert code == 2 and "unknown metric" in out
