"""Late and missing deliveries computed from the ledger and today's date (pure)."""

from __future__ import annotations

from datetime import date

from connectors.cadence import Delivery, due_date, overdue_periods, period_of
from connectors.sources import SOURCES


def _months(source: str, year: int, months: range, status: str = "published") -> list[Delivery]:
    out = []
    for m in months:
        start, end = period_of("month", date(year, m, 1))
        out.append(Delivery(source, start, end, status))
    return out


def test_sources_declare_their_cadence() -> None:
    assert SOURCES["registration"].cadence == "month"
    assert SOURCES["ip_stats"].cadence == "month"
    assert SOURCES["ip_cases"].cadence == "quarter"
    assert SOURCES["ip_pledge"].cadence == "half_year"


def test_periods_and_due_dates() -> None:
    assert period_of("month", date(2024, 2, 14)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_of("quarter", date(2024, 5, 2)) == (date(2024, 4, 1), date(2024, 6, 30))
    assert period_of("half_year", date(2024, 12, 31)) == (date(2024, 7, 1), date(2024, 12, 31))
    assert due_date(date(2024, 1, 31), 10) == date(2024, 2, 10)
    assert due_date(date(2024, 12, 31), 10) == date(2025, 1, 10)
    assert due_date(date(2024, 1, 31), 31) == date(2024, 2, 29)  # clamped to the month


def test_a_missing_month_is_overdue_from_the_day_after_its_due_date() -> None:
    ledger = _months("registration", 2026, range(1, 11))  # Jan..Oct 2026 delivered
    assert overdue_periods(ledger, date(2026, 12, 10), due_day=10) == []  # November due today
    [late] = overdue_periods(ledger, date(2026, 12, 11), due_day=10)
    assert (late.source, late.start, late.end) == (
        "registration",
        date(2026, 11, 1),
        date(2026, 11, 30),
    )
    assert late.due == date(2026, 12, 10) and late.days_overdue == 1
    assert not late.quarantined_only
    # the due day is configurable
    assert overdue_periods(ledger, date(2026, 12, 11), due_day=15) == []


def test_a_gap_in_the_middle_and_a_quarantined_month() -> None:
    ledger = _months("cases", 2026, range(1, 3)) + _months("cases", 2026, range(4, 6))
    ledger += _months("cases", 2026, range(5, 6), status="quarantined")  # May also quarantined
    ledger += _months("cases", 2026, range(6, 7), status="quarantined")  # June only quarantined
    late = overdue_periods(ledger, date(2026, 7, 20), due_day=10)
    assert [(o.start.month, o.quarantined_only, o.days_overdue) for o in late] == [
        (3, False, (date(2026, 7, 20) - date(2026, 4, 10)).days),
        (6, True, 10),
    ]
    assert late[1].why == "only quarantined files delivered"


def test_quarterly_and_half_yearly_sources() -> None:
    ledger = [
        Delivery("ip_cases", date(2026, 1, 1), date(2026, 3, 31), "published"),
        Delivery("ip_pledge", date(2025, 7, 1), date(2025, 12, 31), "published"),
    ]
    late = overdue_periods(ledger, date(2026, 8, 1), due_day=10)
    assert [(o.source, o.period) for o in late] == [
        ("ip_cases", "2026-04-01..2026-06-30"),  # due 2026-07-10
        ("ip_pledge", "2026-01-01..2026-06-30"),
    ]


def test_a_period_covered_by_several_files_or_a_superseded_one_is_delivered() -> None:
    ledger = [
        Delivery("ip_pledge", date(2026, 1, 1), date(2026, 3, 31), "superseded"),
        Delivery("ip_pledge", date(2026, 4, 1), date(2026, 6, 30), "published"),
        Delivery("ip_pledge", date(2026, 7, 1), date(2026, 9, 30), "published"),  # half of H2
    ]
    late = overdue_periods(ledger, date(2027, 2, 1), due_day=10)
    assert [o.period for o in late] == ["2026-07-01..2026-12-31"]


def test_a_past_demo_year_is_not_flooded_with_later_months() -> None:
    # The 2024 samples evaluated in December 2026: only 2024 is expected.
    ledger = _months("registration", 2024, range(1, 13)) + _months("ip_stats", 2023, range(1, 13))
    ledger += _months("ip_stats", 2024, range(1, 13))
    assert overdue_periods(ledger, date(2026, 12, 6)) == []
    without_march = [d for d in ledger if not (d.source == "registration" and d.start.month == 3)]
    [late] = overdue_periods(without_march, date(2026, 12, 6))
    assert late.period == "2024-03-01..2024-03-31" and late.days_overdue == 970


def test_pending_deliveries_and_unknown_sources_are_left_out() -> None:
    assert overdue_periods([], date(2026, 1, 1)) == []
    pending = _months("registration", 2026, range(1, 2), status="pending")
    assert overdue_periods(pending, date(2026, 12, 1)) == []
    # a source that never delivered is not evaluated; the others are
    ledger = _months("registration", 2026, range(1, 12))
    assert overdue_periods(ledger, date(2026, 12, 11)) == []


def test_from_a_ledger_entry() -> None:
    entry = {"source": "cases", "period": ["2024-01-01", "2024-01-31"], "status": "published"}
    assert Delivery.from_entry(entry) == Delivery(
        "cases", date(2024, 1, 1), date(2024, 1, 31), "published"
    )


def test_the_yearly_workbook_is_due_after_its_year() -> None:
    """`manual` delivers one workbook per calendar year: 2026's is due 2027-01-10 (in a live
    ledger: the monthly exports keep arriving)."""
    assert SOURCES["manual"].cadence == "year"
    assert period_of("year", date(2024, 11, 13)) == (date(2024, 1, 1), date(2024, 12, 31))
    ledger = _months("registration", 2026, range(1, 13))
    ledger.append(Delivery("manual", date(2025, 1, 1), date(2025, 12, 31), "published"))

    def late(today: date) -> list[tuple[str, date]]:
        return [
            (o.period, o.due)
            for o in overdue_periods(ledger, today, due_day=10)
            if o.source == "manual"
        ]

    assert late(date(2027, 1, 10)) == []
    assert late(date(2027, 1, 11)) == [("2026-01-01..2026-12-31", date(2027, 1, 10))]
    ledger.append(Delivery("manual", date(2026, 1, 1), date(2026, 12, 31), "quarantined"))
    [only] = [o for o in overdue_periods(ledger, date(2027, 2, 1)) if o.source == "manual"]
    assert only.quarantined_only
