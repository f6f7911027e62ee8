"""The rules of metrics.md that are not one metric's filter: window, as_of, latest month,
empty windows, half-up rounding, supersession and `as_known_at`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, update
from tiny_warehouse import PUBLISHED, add_batch, add_rows

from metrics.engine import Window, compute_metrics, parse_timestamp, shift_year
from warehouse.schema import source_table


def reg(on: date, channel: str = "网上办理") -> dict[str, object]:
    return {"txn_type": "设立登记", "channel": channel, "approved_on": on, "applied_on": on}


def stat(month: date, value: int, region: str = "蓬江区") -> dict[str, object]:
    return {
        "month": month,
        "region": region,
        "patents_granted_ytd": value,
        "valid_invention_patents": value,
        "valid_trademarks": value,
    }


# ---------------------------------------------------------------------------- window


def test_as_of_bounds_the_window_inclusively(tiny: Engine) -> None:
    add_rows(
        tiny, "registration", [reg(date(2024, 1, 1)), reg(date(2024, 6, 30)), reg(date(2024, 7, 1))]
    )
    assert compute_metrics(tiny, 2024, as_of=date(2024, 6, 30), codes=["reg.establish"]) == {
        "reg.establish": 2
    }
    assert compute_metrics(tiny, 2024, as_of=date(2024, 6, 29), codes=["reg.establish"]) == {
        "reg.establish": 1
    }
    assert compute_metrics(tiny, 2024, codes=["reg.establish"]) == {"reg.establish": 3}


def test_as_of_after_the_year_stops_at_year_end(tiny_sqlite: Engine) -> None:
    add_rows(tiny_sqlite, "registration", [reg(date(2024, 12, 31)), reg(date(2025, 1, 1))])
    values = compute_metrics(tiny_sqlite, 2024, as_of=date(2025, 3, 1), codes=["reg.establish"])
    assert values == {"reg.establish": 1}
    assert Window.of(2024, date(2025, 3, 1)).end == date(2024, 12, 31)


def test_as_of_filters_event_dates_not_delivery(tiny_sqlite: Engine) -> None:
    """A correction delivered later for a January date changes the as-of-January figure."""
    first = add_rows(tiny_sqlite, "registration", [reg(date(2024, 1, 10))])
    later = PUBLISHED + timedelta(days=60)
    with tiny_sqlite.begin() as conn:
        table = source_table("registration")
        conn.execute(update(table).where(table.c.batch_id == first).values(superseded_at=later))
    add_rows(
        tiny_sqlite,
        "registration",
        [reg(date(2024, 1, 10)), reg(date(2024, 1, 20))],
        published_at=later,
    )
    values = compute_metrics(tiny_sqlite, 2024, as_of=date(2024, 1, 31), codes=["reg.establish"])
    assert values == {"reg.establish": 2}


def test_leap_day_cut_off_maps_to_28_february() -> None:
    assert shift_year(date(2024, 2, 29), -1) == date(2023, 2, 28)
    assert Window.of(2024, date(2024, 2, 29)).previous_year().end == date(2023, 2, 28)


# ----------------------------------------------------------------------- latest month


def test_latest_month_is_newest_month_starting_before_window_end(tiny: Engine) -> None:
    add_rows(tiny, "ip_stats", [stat(date(2024, m, 1), m * 10) for m in range(1, 13)])
    codes = ["ip.patents_granted"]
    assert compute_metrics(tiny, 2024, codes=codes) == {"ip.patents_granted": 120}
    assert compute_metrics(tiny, 2024, as_of=date(2024, 10, 31), codes=codes) == {
        "ip.patents_granted": 100
    }
    # 1 October is <= the window end, so October counts even on its first day
    assert compute_metrics(tiny, 2024, as_of=date(2024, 10, 1), codes=codes) == {
        "ip.patents_granted": 100
    }
    assert compute_metrics(tiny, 2024, as_of=date(2024, 9, 30), codes=codes) == {
        "ip.patents_granted": 90
    }


def test_latest_month_skips_months_without_the_region(tiny_sqlite: Engine) -> None:
    add_rows(
        tiny_sqlite, "ip_stats", [stat(date(2024, 3, 1), 30), stat(date(2024, 4, 1), 99, "江海区")]
    )
    values = compute_metrics(tiny_sqlite, 2024, codes=["ip.valid_trademarks"])
    assert values == {"ip.valid_trademarks": 30}
    other = compute_metrics(tiny_sqlite, 2024, region="江海区", codes=["ip.valid_trademarks"])
    assert other == {"ip.valid_trademarks": 99}


def test_latest_month_ignores_superseded_months(tiny_sqlite: Engine) -> None:
    add_rows(tiny_sqlite, "ip_stats", [stat(date(2024, 5, 1), 50)])
    add_rows(tiny_sqlite, "ip_stats", [stat(date(2024, 6, 1), 60)], superseded_at=PUBLISHED)
    assert compute_metrics(tiny_sqlite, 2024, codes=["ip.valid_invention"]) == {
        "ip.valid_invention": 50
    }


def test_latest_month_without_any_month_is_null(tiny_sqlite: Engine) -> None:
    add_rows(tiny_sqlite, "ip_stats", [stat(date(2023, 12, 1), 10), stat(date(2024, 2, 1), 20)])
    values = compute_metrics(tiny_sqlite, 2024, as_of=date(2024, 1, 31))
    assert values["ip.valid_invention"] is None
    assert values["ip.valid_invention.yoy"] is None


# ----------------------------------------------------------------------------- yoy


def test_yoy_is_null_when_previous_year_is_missing(tiny: Engine) -> None:
    add_rows(tiny, "ip_stats", [stat(date(2024, 10, 1), 1100), stat(date(2023, 9, 1), 1000)])
    values = compute_metrics(tiny, 2024, codes=["ip.valid_invention", "ip.valid_invention.yoy"])
    assert values == {"ip.valid_invention": 1100, "ip.valid_invention.yoy": None}


def test_a_tiny_fall_rounds_to_zero_without_a_minus_sign(tiny_sqlite: Engine) -> None:
    # 99999 / 100000 - 1 = -0.001 %: rounds to 0.00, which must not print as -0.00.
    rows = [stat(date(2024, 12, 1), 99999), stat(date(2023, 12, 1), 100000)]
    add_rows(tiny_sqlite, "ip_stats", rows)
    value = compute_metrics(tiny_sqlite, 2024, codes=["ip.valid_invention.yoy"])[
        "ip.valid_invention.yoy"
    ]
    assert value == 0 and str(value) == "0.00"


def test_yoy_compares_the_same_month_of_last_year(tiny_sqlite: Engine) -> None:
    add_rows(
        tiny_sqlite,
        "ip_stats",
        [stat(date(2024, 12, 1), 1788), stat(date(2023, 12, 1), 1648), stat(date(2023, 11, 1), 1)],
    )
    # 1788 / 1648 = 1.084951…: 8.4951… rounds half-up to 8.50
    assert compute_metrics(tiny_sqlite, 2024, codes=["ip.valid_invention.yoy"]) == {
        "ip.valid_invention.yoy": Decimal("8.50")
    }


def test_yoy_can_be_negative(tiny_sqlite: Engine) -> None:
    add_rows(tiny_sqlite, "ip_stats", [stat(date(2024, 3, 1), 90), stat(date(2023, 3, 1), 100)])
    assert compute_metrics(tiny_sqlite, 2024, codes=["ip.valid_invention.yoy"]) == {
        "ip.valid_invention.yoy": Decimal("-10.00")
    }


# ------------------------------------------------------------------------ empty window


def test_empty_window_counts_zero_and_ratios_null(tiny: Engine) -> None:
    values = compute_metrics(tiny, 2024)
    assert values["reg.establish"] == 0
    assert values["random.tasks"] == 0
    assert values["seq.approved_units"] == 0
    assert values["cases.penalty_wan"] == Decimal("0.00")
    assert values["reg.establish.online_share"] is None
    assert values["ip.valid_invention.yoy"] is None
    assert values["ip.patents_granted"] is None
    assert all(type(values[c]) is int for c in ("reg.establish", "campaign.fuel.officers"))


# --------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("amount_wan", "expected"),
    [
        (Decimal("1250"), Decimal("0.13")),  # 0.125 -> 0.13 (half-up, not half-even 0.12)
        (Decimal("1150"), Decimal("0.12")),  # 0.115 -> 0.12 (binary float would give 0.11)
        (Decimal("1249.9999"), Decimal("0.12")),
        (Decimal("251700"), Decimal("25.17")),
    ],
)
def test_decimals_round_half_up(tiny: Engine, amount_wan: Decimal, expected: Decimal) -> None:
    add_rows(tiny, "ip_pledge", [{"registered_on": date(2024, 3, 1), "amount_wan": amount_wan}])
    value = compute_metrics(tiny, 2024, codes=["pledge.amount_yi"])["pledge.amount_yi"]
    assert value == expected
    assert isinstance(value, Decimal) and value.as_tuple().exponent == -2


def test_ratio_rounds_half_up(tiny_sqlite: Engine) -> None:
    """100 × 1 / 800 = 0.125 -> 0.13."""
    rows = [reg(date(2024, 5, 1), "网上办理")] + [reg(date(2024, 5, 1), "窗口办理")] * 799
    add_rows(tiny_sqlite, "registration", rows)
    values = compute_metrics(tiny_sqlite, 2024, codes=["reg.establish.online_share"])
    assert values == {"reg.establish.online_share": Decimal("0.13")}


def test_penalty_sum_stays_exact(tiny: Engine) -> None:
    closed = {"status": "已结案", "filed_on": date(2024, 1, 2), "closed_on": date(2024, 2, 1)}
    rows = [{**closed, "penalty_yuan": Decimal("0.1")} for _ in range(3)]
    rows.append({**closed, "penalty_yuan": Decimal("49.7")})  # total 50.0 yuan = 0.005 万元
    add_rows(tiny, "cases", rows)
    assert compute_metrics(tiny, 2024, codes=["cases.penalty_wan"]) == {
        "cases.penalty_wan": Decimal("0.01")
    }


# ------------------------------------------------------------ supersession, as_known_at


def test_superseded_rows_do_not_count(tiny: Engine) -> None:
    add_rows(tiny, "registration", [reg(date(2024, 2, 1))] * 3, superseded_at=PUBLISHED)
    add_rows(tiny, "registration", [reg(date(2024, 2, 1))])
    assert compute_metrics(tiny, 2024, codes=["reg.establish"]) == {"reg.establish": 1}


def test_as_known_at_recomputes_past_states(tiny: Engine) -> None:
    t1 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
    t2 = datetime(2024, 4, 1, 2, 0, tzinfo=UTC)
    # the February file as first delivered (2 rows), then corrected (3 rows) on t2
    add_rows(tiny, "registration", [reg(date(2024, 2, 1))] * 2, published_at=t1, superseded_at=t2)
    add_rows(tiny, "registration", [reg(date(2024, 2, 1))] * 3, published_at=t2)

    def known(moment: datetime | None) -> object:
        return compute_metrics(tiny, 2024, as_known_at=moment, codes=["reg.establish"])[
            "reg.establish"
        ]

    assert known(t1 - timedelta(seconds=1)) == 0
    assert known(t1) == 2
    assert known(t2 - timedelta(microseconds=1)) == 2
    assert known(t2) == 3
    assert known(None) == 3


def test_as_known_at_naive_timestamp_is_bureau_time(tiny: Engine) -> None:
    published = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
    add_rows(tiny, "registration", [reg(date(2024, 2, 1))], published_at=published)
    before = parse_timestamp("2024-03-01T09:59:59")
    at = parse_timestamp("2024-03-01 10:00")
    assert compute_metrics(tiny, 2024, as_known_at=before, codes=["reg.establish"]) == {
        "reg.establish": 0
    }
    assert compute_metrics(tiny, 2024, as_known_at=at, codes=["reg.establish"]) == {
        "reg.establish": 1
    }
    offset = parse_timestamp("2024-03-01T02:00:00+00:00")
    assert offset == published


def test_as_known_at_applies_to_latest_month(tiny_sqlite: Engine) -> None:
    t1 = datetime(2024, 11, 5, tzinfo=UTC)
    t2 = datetime(2024, 12, 5, tzinfo=UTC)
    add_rows(tiny_sqlite, "ip_stats", [stat(date(2024, 10, 1), 100)], published_at=t1)
    add_rows(tiny_sqlite, "ip_stats", [stat(date(2024, 11, 1), 110)], published_at=t2)
    codes = ["ip.valid_invention"]
    assert compute_metrics(tiny_sqlite, 2024, as_known_at=t1, codes=codes) == {
        "ip.valid_invention": 100
    }
    assert compute_metrics(tiny_sqlite, 2024, codes=codes) == {"ip.valid_invention": 110}


def test_quarantined_batches_contribute_nothing(tiny_sqlite: Engine) -> None:
    """Quarantined files publish no rows: only the ledger knows them."""
    add_batch(tiny_sqlite, "registration", status="quarantined", rows_read=10, rows_rejected=9)
    add_rows(tiny_sqlite, "registration", [reg(date(2024, 2, 1))])
    assert compute_metrics(tiny_sqlite, 2024, codes=["reg.establish"]) == {"reg.establish": 1}
