"""Coverage of every figure (metrics/coverage.py): the periods a figure must include, from its
source's cadence, against the batch ledger (hand-made, on SQLite and PostgreSQL)."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy import Engine
from tiny_warehouse import add_batch

from metrics.catalog import load_catalog
from metrics.coverage import (
    NOT_DELIVERED,
    NOT_YET_DUE,
    QUARANTINED,
    Coverage,
    Missing,
    figure_coverage,
    incomplete_line,
)

LATER = date(2026, 12, 7)  # the bureau's today in these tests: every 2024 period is past due
T1 = datetime(2024, 10, 12, 2, 0, tzinfo=UTC)
T2 = datetime(2024, 11, 20, 2, 0, tzinfo=UTC)
SEQ = "特种设备使用登记"


def month_name(source: str, year: int, month: int) -> str:
    last = calendar.monthrange(year, month)[1]
    stems = {"special_equipment": (SEQ, "json"), "inspections": ("监督检查记录", "csv")}
    stem, ext = stems[source]
    return f"{stem}_{year}{month:02d}01-{year}{month:02d}{last}.{ext}"


def deliver_months(
    engine: Engine, source: str, months: Iterable[int], year: int = 2024, **kwargs: object
) -> None:
    for month in months:
        last = calendar.monthrange(year, month)[1]
        add_batch(
            engine,
            source,
            month_name(source, year, month) if source != "ip_stats" else None,
            period=(date(year, month, 1), date(year, month, last)),
            **kwargs,  # type: ignore[arg-type]
        )


def quarantine_september(engine: Engine, name: str) -> None:
    september = (date(2024, 9, 1), date(2024, 9, 30))
    add_batch(engine, "special_equipment", name, period=september, status="quarantined")


def test_quarantined_and_missing_months_name_period_reason_and_file(tiny: Engine) -> None:
    deliver_months(tiny, "special_equipment", range(1, 13))
    sep_v2 = month_name("special_equipment", 2024, 9).replace(".json", "_v2.json")
    quarantine_september(tiny, sep_v2)  # a quarantined correction: September stays published
    deliver_months(tiny, "inspections", [*range(1, 10), 11, 12])
    cov = figure_coverage(tiny, 2024, today=LATER)
    assert cov["seq.approved_units"] == Coverage(True)
    assert cov["insp.drug_retail"] == Coverage(
        False, (Missing("2024-10", NOT_DELIVERED, None, "inspections"),)
    )
    assert cov["insp.drug_retail"].note() == "未含2024年10月数据(监督检查记录未报送)"
    assert cov["random.tasks"] == cov["insp.drug_retail"]  # every inspections figure


def test_a_month_only_quarantined_is_named_with_its_file(tiny: Engine) -> None:
    deliver_months(tiny, "special_equipment", [*range(1, 9), 10, 11, 12])
    truncated = month_name("special_equipment", 2024, 9)
    quarantine_september(tiny, truncated)
    cov = figure_coverage(tiny, 2024, today=LATER)["seq.approved_units"]
    assert not cov.complete
    assert cov.missing == (Missing("2024-09", QUARANTINED, truncated, "special_equipment"),)
    assert cov.as_json() == {
        "complete": False,
        "missing": [{"period": "2024-09", "reason": "quarantined", "file": truncated}],
    }
    assert cov.note() == f"未含2024年9月数据(特种设备使用登记文件已隔离:{truncated})"
    # a cut-off before September does not need it
    assert figure_coverage(tiny, 2024, date(2024, 8, 31), today=LATER)["seq.approved_units"] == (
        Coverage(True)
    )
    # a cut-off inside September needs the whole month's delivery
    assert not figure_coverage(tiny, 2024, date(2024, 9, 15), today=LATER)[
        "seq.approved_units"
    ].complete
    line = incomplete_line("seq.approved_units", "核准特种设备使用登记", cov)
    assert line == f"seq.approved_units 核准特种设备使用登记: 2024-09 quarantined ({truncated})"


def test_stock_needs_the_cut_off_month_only_and_yoy_last_years_too(tiny: Engine) -> None:
    deliver_months(tiny, "ip_stats", range(3, 12))  # March to November 2024
    cov = figure_coverage(tiny, 2024, today=LATER)
    # a stock: January, February missing do not matter, December (the cut-off's month) does
    assert cov["ip.valid_invention"].missing == (
        Missing("2024-12", NOT_DELIVERED, None, "ip_stats"),
    )
    june = figure_coverage(tiny, 2024, date(2024, 6, 30), today=LATER)
    assert june["ip.valid_invention"].complete and june["ip.patents_granted"].complete
    # year-on-year: also the same month of last year
    assert june["ip.valid_invention.yoy"].missing == (
        Missing("2023-06", NOT_DELIVERED, None, "ip_stats"),
    )
    deliver_months(tiny, "ip_stats", range(6, 7), year=2023)
    assert figure_coverage(tiny, 2024, date(2024, 6, 30), today=LATER)[
        "ip.valid_invention.yoy"
    ].complete
    # a flow of a quarterly source needs every quarter up to the cut-off
    add_batch(tiny, "ip_cases", period=(date(2024, 1, 1), date(2024, 3, 31)))
    ipcase = figure_coverage(tiny, 2024, date(2024, 6, 30), today=LATER)["ipcase.trademark"]
    assert ipcase.missing == (Missing("2024-Q2", NOT_DELIVERED, None, "ip_cases"),)
    assert ipcase.note() == "未含2024年第二季度数据(知识产权案件及线索未报送)"
    half = figure_coverage(tiny, 2024, today=LATER)["pledge.count"]
    assert [m.period for m in half.missing] == ["2024-H1", "2024-H2"]
    assert half.note() == "未含2024年上半年至下半年数据(知识产权质押登记未报送)"


def test_a_ratio_needs_its_components_periods(tiny: Engine) -> None:
    add_batch(tiny, "registration", period=(date(2024, 1, 1), date(2024, 12, 31)))
    cov = figure_coverage(tiny, 2024, today=LATER)
    assert cov["reg.establish.online_share"].complete and cov["reg.establish"].complete
    assert set(cov) == set(load_catalog().codes)


def test_as_known_at_sees_only_what_was_published_by_then(tiny: Engine) -> None:
    deliver_months(tiny, "special_equipment", range(1, 9), published_at=T1)
    deliver_months(tiny, "special_equipment", range(9, 10), published_at=T2)
    at = datetime(2024, 11, 1, tzinfo=UTC)
    before = figure_coverage(tiny, 2024, date(2024, 9, 30), at, today=LATER)
    assert before["seq.approved_units"].missing == (
        Missing("2024-09", NOT_DELIVERED, None, "special_equipment"),
    )
    after = figure_coverage(tiny, 2024, date(2024, 9, 30), T2, today=LATER)
    assert after["seq.approved_units"].complete
    # without `today`, the day of as-known-at decides whether a period was due yet
    early = datetime(2024, 10, 5, tzinfo=UTC)
    assert figure_coverage(tiny, 2024, date(2024, 9, 30), early)["seq.approved_units"].missing == (
        Missing("2024-01", NOT_DELIVERED, None, "special_equipment"),
        Missing("2024-02", NOT_DELIVERED, None, "special_equipment"),
        Missing("2024-03", NOT_DELIVERED, None, "special_equipment"),
        Missing("2024-04", NOT_DELIVERED, None, "special_equipment"),
        Missing("2024-05", NOT_DELIVERED, None, "special_equipment"),
        Missing("2024-06", NOT_DELIVERED, None, "special_equipment"),
        Missing("2024-07", NOT_DELIVERED, None, "special_equipment"),
        Missing("2024-08", NOT_DELIVERED, None, "special_equipment"),
        Missing("2024-09", NOT_YET_DUE, None, "special_equipment"),  # due 10 October
    )


def test_not_yet_due_follows_the_due_day(tiny: Engine) -> None:
    deliver_months(tiny, "special_equipment", range(1, 12))
    on_jan_5 = figure_coverage(tiny, 2024, today=date(2025, 1, 5))["seq.approved_units"]
    assert on_jan_5.missing == (Missing("2024-12", NOT_YET_DUE, None, "special_equipment"),)
    assert on_jan_5.note() == "未含2024年12月数据(特种设备使用登记尚未到报送期限)"
    later = figure_coverage(tiny, 2024, today=date(2025, 1, 5), due_day=3)["seq.approved_units"]
    assert later.missing[0].reason == NOT_DELIVERED


def test_the_summary_says_a_run_of_missing_periods_once() -> None:
    """A year never delivered is one range, not twelve months; a change of reason or file,
    or a gap, starts another."""
    months = [Missing(f"2023-{m:02d}", NOT_DELIVERED, None, "registration") for m in range(1, 13)]
    assert Coverage(False, tuple(months)).summary() == "2023-01..2023-12 not delivered"
    mixed = (
        Missing("2024-03", NOT_DELIVERED, None, "cases"),
        Missing("2024-04", QUARANTINED, "A.xlsx", "cases"),
        Missing("2024-05", QUARANTINED, "B.xlsx", "cases"),
        Missing("2024-06", QUARANTINED, "B.xlsx", "cases"),
        Missing("2024-08", NOT_DELIVERED, None, "cases"),
        Missing("2024-Q3", NOT_DELIVERED, None, "ip_cases"),
        Missing("2024-Q4", NOT_DELIVERED, None, "ip_cases"),
    )
    assert Coverage(False, mixed).summary() == (
        "2024-03 not delivered, 2024-04 quarantined (A.xlsx), "
        "2024-05..2024-06 quarantined (B.xlsx), 2024-08 not delivered, "
        "2024-Q3..2024-Q4 not delivered"
    )
