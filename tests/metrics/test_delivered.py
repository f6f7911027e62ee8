"""A window no file of a source was delivered for is not scanned for that source, and every
figure, monthly series and lineage stays what the scan gives."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from tiny_warehouse import add_batch, add_rows, statements

from metrics.catalog import load_catalog
from metrics.delivered import delivered_sources, may_count
from metrics.engine import compute_metrics, compute_monthly
from metrics.lineage import figure_contributions
from report.model import sources_with_data

CATALOG = load_catalog()


def reg(on: date, txn: str = "设立登记") -> dict[str, object]:
    return {"txn_type": txn, "channel": "网上办理", "approved_on": on, "applied_on": on}


def scans_of(seen: list[str], source: str) -> list[str]:
    return [s for s in seen if f"from {source}" in s]


def test_the_ledger_says_which_sources_were_delivered_for_a_window(tiny: Engine) -> None:
    add_batch(tiny, "registration", period=(date(2024, 1, 1), date(2024, 1, 31)))
    add_batch(tiny, "cases", period=(date(2023, 12, 1), date(2024, 2, 29)), status="quarantined")
    with tiny.connect() as conn:
        assert delivered_sources(conn, date(2024, 1, 31), date(2024, 12, 31)) == {
            "registration",
            "cases",
        }
        assert delivered_sources(conn, date(2024, 2, 1), date(2024, 12, 31)) == {"cases"}
        assert delivered_sources(conn, date(2023, 1, 1), date(2023, 11, 30)) == set()


def test_only_window_figures_dated_by_the_partition_column_are_skipped() -> None:
    nothing: frozenset[str] = frozenset()
    establish, closed = CATALOG["reg.establish"], CATALOG["cases.closed.food"]
    assert establish.date == "approved_on" and not may_count(establish, nothing)
    assert may_count(establish, frozenset({"registration"}))
    # closed cases are dated by closed_on, the partition is filed_on: a case filed in a year
    # delivered earlier may close in this one
    assert closed.date == "closed_on" and may_count(closed, nothing)
    latest = next(m for m in CATALOG if m.aggregate.kind == "latest_month")
    assert may_count(latest, nothing)


def test_a_year_without_deliveries_is_not_scanned(tiny: Engine) -> None:
    add_rows(tiny, "registration", [reg(date(2024, 3, 5)), reg(date(2024, 4, 1))])
    with statements(tiny) as seen:
        values = compute_metrics(tiny, 2023, codes=["reg.establish"])
        monthly = compute_monthly(tiny, 2023, ["reg.establish"])
        lineage = figure_contributions(tiny, 2023, catalog=CATALOG)
        with_data = sources_with_data(tiny, _window(2023), None, ["registration"])
    assert values == {"reg.establish": 0}
    assert monthly["reg.establish"] == [0] * 12
    assert lineage["reg.establish"] == []
    assert with_data == set()
    assert scans_of(seen, "registration") == []

    with statements(tiny) as seen:
        assert compute_metrics(tiny, 2024, codes=["reg.establish"]) == {"reg.establish": 2}
        assert sources_with_data(tiny, _window(2024), None, ["registration"]) == {"registration"}
    assert len(scans_of(seen, "registration")) == 2


def _window(year: int) -> Any:
    from metrics.engine import Window

    return Window.of(year)


@pytest.fixture()
def scanned_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every source counted as delivered for every window: the engine scans as it did."""
    import metrics.engine
    import metrics.lineage

    monkeypatch.setattr(metrics.engine, "may_count", lambda metric, delivered: True)
    monkeypatch.setattr(metrics.lineage, "may_count", lambda metric, delivered: True)


def _everything(engine: Engine) -> list[Any]:
    trend = [m.code for m in CATALOG if m.trend]
    out: list[Any] = []
    for year in (2022, 2023, 2024, 2025):
        for as_of in (None, date(year, 2, 15)):
            for known in (None, datetime(2024, 6, 1, tzinfo=UTC)):
                out.append(compute_metrics(engine, year, as_of, known, catalog=CATALOG))
                out.append(compute_monthly(engine, year, trend, as_of, known, catalog=CATALOG))
                out.append(figure_contributions(engine, year, as_of, known, catalog=CATALOG))
    return out


def test_skipping_gives_what_the_scans_give(tiny: Engine, request: pytest.FixtureRequest) -> None:
    """Figures, series and lineage of years with and without deliveries, at cut-offs and
    as known at a past moment, equal those of an engine that scans every source."""
    year_2023 = add_batch(tiny, "registration", period=(date(2023, 1, 1), date(2023, 12, 31)))
    add_rows(
        tiny,
        "registration",
        [reg(date(2023, 1, 5)), reg(date(2023, 6, 1), "变更登记")],
        batch_id=year_2023,
    )
    add_rows(
        tiny,
        "registration",
        [reg(date(2024, 1, 5))] * 3,
        published_at=datetime(2024, 7, 1, tzinfo=UTC),
    )
    # A case filed in December's file and closed in January: no cases file covers 2024, yet
    # the closed count of 2024 holds it (closed_on is not the partition column).
    december = add_batch(tiny, "cases", period=(date(2023, 12, 1), date(2023, 12, 31)))
    add_rows(
        tiny,
        "cases",
        [
            {
                "case_no": "A1",
                "filed_on": date(2023, 12, 1),
                "closed_on": date(2024, 1, 10),
                "status": "已结案",
                "category": "食品",
                "penalty_yuan": Decimal("1200.50"),
            },
            {"case_no": "A2", "filed_on": date(2023, 12, 2), "status": "立案"},
        ],
        batch_id=december,
    )
    add_rows(tiny, "ip_pledge", [{"registered_on": date(2024, 3, 1), "amount_wan": Decimal("2.5")}])
    add_rows(
        tiny,
        "ip_stats",
        [
            {"month": date(y, 6, 1), "region": "蓬江区", "valid_invention_patents": 90 + y - 2023}
            for y in (2023, 2024)
        ],
    )
    skipping = _everything(tiny)
    assert compute_metrics(tiny, 2024, codes=["cases.closed.food"]) == {"cases.closed.food": 1}
    request.getfixturevalue("scanned_always")
    assert _everything(tiny) == skipping
