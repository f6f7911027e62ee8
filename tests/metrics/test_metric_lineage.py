"""Lineage, monthly series and the mart: all from the same engine as the figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect
from tiny_warehouse import PUBLISHED, add_batch, add_rows, pg_schema_url, statements

from metrics.engine import compute_metrics, compute_monthly
from metrics.lineage import contributions
from metrics.mart import read_mart, refresh_mart


def reg(on: date, txn: str = "设立登记", channel: str = "网上办理") -> dict[str, object]:
    return {"txn_type": txn, "channel": channel, "approved_on": on, "applied_on": on}


def test_contributions_count_rows_per_batch(tiny: Engine) -> None:
    january = add_batch(tiny, "registration", "经营主体登记业务明细_20240101-20240131.csv")
    february = add_batch(tiny, "registration", "经营主体登记业务明细_20240201-20240229.csv")
    old = add_batch(tiny, "registration", "经营主体登记业务明细_20240201-20240229_v0.csv")
    add_rows(
        tiny,
        "registration",
        [reg(date(2024, 1, 5))] * 2 + [reg(date(2024, 1, 6), "变更登记")],
        batch_id=january,
    )
    add_rows(tiny, "registration", [reg(date(2024, 2, 5))], batch_id=february)
    add_rows(
        tiny, "registration", [reg(date(2024, 2, 5))] * 5, batch_id=old, superseded_at=PUBLISHED
    )

    parts = contributions(tiny, "reg.establish", 2024)
    assert [(p.name, p.rows) for p in parts] == [
        ("经营主体登记业务明细_20240101-20240131.csv", 2),
        ("经营主体登记业务明细_20240201-20240229.csv", 1),
    ]
    assert (
        sum(p.rows for p in parts)
        == compute_metrics(tiny, 2024, codes=["reg.establish"])["reg.establish"]
    )
    assert parts[0].file == "registration/经营主体登记业务明细_20240101-20240131.csv"
    assert parts[0].first_seen_at is not None
    # the as-of cut-off applies to lineage too
    assert [
        p.batch_id for p in contributions(tiny, "reg.establish", 2024, as_of=date(2024, 1, 31))
    ] == [january]


def test_contributions_of_sums_carry_the_amount(tiny_sqlite: Engine) -> None:
    add_rows(
        tiny_sqlite,
        "ip_pledge",
        [
            {"registered_on": date(2024, 3, 1), "amount_wan": Decimal("1.5")},
            {"registered_on": date(2024, 3, 2), "amount_wan": Decimal("2.25")},
        ],
    )
    (part,) = contributions(tiny_sqlite, "pledge.amount_yi", 2024)
    assert part.rows == 2 and part.amount == Decimal("3.75")


def test_contributions_of_derived_metrics_list_their_components(tiny_sqlite: Engine) -> None:
    add_rows(
        tiny_sqlite,
        "ip_stats",
        [
            {"month": date(2024, 6, 1), "region": "蓬江区", "valid_invention_patents": 110},
            {"month": date(2023, 6, 1), "region": "蓬江区", "valid_invention_patents": 100},
        ],
    )
    parts = contributions(tiny_sqlite, "ip.valid_invention.yoy", 2024)
    assert [(p.metric, p.month, p.amount) for p in parts] == [
        ("ip.valid_invention", date(2024, 6, 1), 110),
        ("ip.valid_invention", date(2023, 6, 1), 100),
    ]
    add_rows(
        tiny_sqlite,
        "registration",
        [reg(date(2024, 1, 5)), reg(date(2024, 1, 5), channel="窗口办理")],
    )
    share = contributions(tiny_sqlite, "reg.establish.online_share", 2024)
    assert [(p.metric, p.rows) for p in share] == [
        ("reg.establish.online", 1),
        ("reg.establish", 2),
    ]


def test_monthly_series_add_up_to_the_year(tiny: Engine) -> None:
    add_rows(tiny, "registration", [reg(date(2024, m, 3)) for m in (1, 1, 3, 12)])
    add_rows(
        tiny,
        "cases",
        [
            {
                "status": "已结案",
                "filed_on": date(2024, 2, 1),
                "closed_on": date(2024, 2, 9),
                "penalty_yuan": Decimal("1250"),
            }
        ],
    )
    add_rows(
        tiny,
        "ip_stats",
        [
            {"month": date(2024, m, 1), "region": "蓬江区", "patents_granted_ytd": m}
            for m in (1, 2, 4)
        ],
    )
    codes = ["reg.establish", "cases.penalty_wan", "ip.patents_granted"]
    monthly = compute_monthly(tiny, 2024, codes)
    assert monthly["reg.establish"] == [2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert monthly["cases.penalty_wan"][1] == Decimal("0.13")
    assert monthly["cases.penalty_wan"][0] == Decimal("0.00")
    assert monthly["ip.patents_granted"] == [1, 2, None, 4] + [None] * 8
    cut = compute_monthly(tiny, 2024, ["reg.establish"], as_of=date(2024, 3, 15))
    assert cut["reg.establish"] == [2, 0, 1] + [None] * 9
    assert sum(v or 0 for v in monthly["reg.establish"]) == 4


def test_mart_holds_the_computed_figures(tiny: Engine) -> None:
    add_rows(
        tiny, "registration", [reg(date(2024, 5, 1)), reg(date(2024, 5, 2), channel="窗口办理")]
    )
    first = refresh_mart(tiny, 2024)
    add_rows(tiny, "registration", [reg(date(2024, 5, 3))])
    second = refresh_mart(tiny, 2024)
    stored = read_mart(tiny, 2024)
    assert first["reg.establish"] == 2
    assert stored == second == compute_metrics(tiny, 2024)
    assert stored["reg.establish"] == 3 and type(stored["reg.establish"]) is int
    assert stored["reg.establish.online_share"] == Decimal("66.67")
    assert stored["ip.valid_invention.yoy"] is None
    refresh_mart(tiny, 2024, as_of=date(2024, 5, 1))
    assert read_mart(tiny, 2024, date(2024, 5, 1))["reg.establish"] == 1
    assert read_mart(tiny, 2024)["reg.establish"] == 3


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.db'}"
    return pg_schema_url(str(request.getfixturevalue("pg_url")), "metrics_migrated")


def test_migration_creates_the_mart(migrated_url: str) -> None:
    """The Alembic revision 0002 creates the table refresh_mart writes."""
    from warehouse.engine import open_warehouse

    engine = open_warehouse(migrated_url)
    try:
        assert "metric_mart" in inspect(engine).get_table_names()
        add_rows(
            engine,
            "registration",
            [reg(date(2024, 7, 1))],
            published_at=datetime(2024, 7, 2, tzinfo=UTC),
        )
        refresh_mart(engine, 2024)
        assert read_mart(engine, 2024)["reg.establish"] == 1
    finally:
        engine.dispose()


def test_every_figure_at_once_equals_each_figure_alone(tiny: Engine) -> None:
    """The report's one-scan-per-source lineage lists, figure by figure, exactly what
    `contributions` (explain) lists: batches, rows, amounts and months, in delivery order;
    superseded rows, cut-offs, sums, stocks and derived figures included."""
    from metrics.catalog import load_catalog
    from metrics.lineage import figure_contributions

    january = add_batch(tiny, "registration", "经营主体登记业务明细_20240101-20240131.csv")
    old = add_batch(tiny, "registration", "经营主体登记业务明细_20240201-20240229_v0.csv")
    add_rows(
        tiny,
        "registration",
        [reg(date(2024, 1, 5))] * 2 + [reg(date(2024, 1, 6), "变更登记", "窗口办理")],
        batch_id=january,
    )
    add_rows(
        tiny, "registration", [reg(date(2024, 2, 5))] * 3, batch_id=old, superseded_at=PUBLISHED
    )
    add_rows(tiny, "registration", [reg(date(2024, 3, 5))])
    add_rows(
        tiny,
        "ip_pledge",
        [
            {"registered_on": date(2024, 3, 1), "amount_wan": Decimal("1.5")},
            {"registered_on": date(2024, 1, 2), "amount_wan": Decimal("2.25")},
        ],
    )
    add_rows(
        tiny,
        "ip_stats",
        [
            {"month": date(2024, m, 1), "region": "蓬江区", "valid_invention_patents": 100 + m}
            for m in (1, 2, 6)
        ]
        + [{"month": date(2023, 6, 1), "region": "蓬江区", "valid_invention_patents": 90}],
    )
    catalog = load_catalog()
    for as_of in (None, date(2024, 2, 15)):
        every = figure_contributions(tiny, 2024, as_of, catalog=catalog)
        assert list(every) == catalog.codes
        assert {"reg.establish", "pledge.amount_yi", "ip.valid_invention.yoy"} <= {
            code for code, parts in every.items() if parts
        }
        for code in catalog.codes:
            assert every[code] == contributions(tiny, code, 2024, as_of, catalog=catalog), code


def test_the_per_batch_scan_names_a_month_only_for_latest_month_figures(tiny: Engine) -> None:
    """A month per batch is an aggregate per row scanned: only a latest-month figure reports
    one, so the registration scan (counts only) computes none and the IP statistics scan
    (latest-month stocks) one per such figure."""
    from metrics.catalog import load_catalog
    from metrics.lineage import figure_contributions

    add_rows(tiny, "registration", [reg(date(2024, 1, 5))])
    catalog = load_catalog()
    with statements(tiny) as seen:
        lineage = figure_contributions(tiny, 2024, catalog=catalog)
    per_batch = [s for s in seen if "per_batch" in s]

    def scan_of(source: str) -> str:
        (found,) = [s for s in per_batch if f"from {source} " in s and "group by" in s]
        return found

    month_per_batch = "max(case when"  # (a latest month's own subquery is a plain max)
    assert month_per_batch not in scan_of("registration")
    latest = [m for m in catalog if m.source == "ip_stats" and m.aggregate.kind == "latest_month"]
    assert latest and scan_of("ip_stats").count(month_per_batch) == len(latest)
    assert [p.rows for p in lineage["reg.establish"]] == [1]


def test_analyze_sources_gives_the_loaded_tables_planner_statistics(
    tiny: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Right after a load PostgreSQL plans the refresh for one row (no statistics yet); the
    run's ANALYZE gives it the table's size. SQLite is left alone."""
    from sqlalchemy import text

    from warehouse.statistics import analyze_sources

    add_rows(tiny, "registration", [reg(date(2024, 1, 5))] * 40)
    with caplog.at_level("INFO", logger="warehouse.statistics"):
        analyzed = analyze_sources(tiny, ["registration", "registration"])
    if tiny.dialect.name != "postgresql":
        assert analyzed == [] and "planner statistics" not in caplog.text
        return
    assert analyzed == ["registration"]
    assert "planner statistics taken: registration" in caplog.text  # the run's log says so
    with tiny.connect() as conn:
        rows = {
            name: conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                {"t": name},
            ).scalar()
            for name in ("registration", "cases")
        }
    assert rows == {"registration": 40, "cases": -1}


@pytest.mark.postgres
def test_a_failed_analyze_leaves_the_run_going(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Statistics only speed the refresh up: where ANALYZE fails (here: a schema without the
    source tables) the run is told in the log and goes on."""
    from sqlalchemy import create_engine

    from warehouse.statistics import analyze_sources

    engine = create_engine(pg_schema_url(pg_url, "statistics_without_tables"))
    try:
        with caplog.at_level("WARNING", logger="warehouse.statistics"):
            assert analyze_sources(engine, ["registration"]) == []
    finally:
        engine.dispose()
    assert "planner statistics not taken (UndefinedTable)" in caplog.text
