"""The committed suites are exactly what the declarations generate."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import great_expectations as gx
import pytest

from connectors.sources import SOURCES, get_source
from connectors.verdict import DEFAULT_REJECT_THRESHOLD
from expectations.build import (
    SUITES_DIR,
    apply_threshold,
    build_suite,
    load_suite,
    main,
    mostly_for,
    render,
    suite_path,
)


@pytest.mark.parametrize("code", sorted(SOURCES))
def test_committed_suite_matches_builder(code: str) -> None:
    expected = render(build_suite(get_source(code), DEFAULT_REJECT_THRESHOLD))
    committed = suite_path(code).read_text(encoding="utf-8")
    assert committed == expected, f"run `python -m expectations.build`: {code}.json is stale"


def test_no_stray_suite_files() -> None:
    assert {p.stem for p in SUITES_DIR.glob("*.json")} == set(SOURCES)


def test_writer_reproduces_committed_files(tmp_path: Path) -> None:
    main(["--dir", str(tmp_path)])
    for code in SOURCES:
        assert (tmp_path / f"{code}.json").read_bytes() == suite_path(code).read_bytes()


@pytest.mark.parametrize("code", sorted(SOURCES))
def test_suite_is_valid_gx(code: str) -> None:
    suite = gx.ExpectationSuite(**load_suite(code))
    assert len(suite.expectations) == len(load_suite(code)["expectations"]) > 5


def test_build_is_pure_and_stable() -> None:
    source = get_source("cases")
    assert build_suite(source) == build_suite(source)
    assert '"id"' not in render(build_suite(source))


def test_threshold_sets_mostly_of_tolerant_expectations_only() -> None:
    suite = build_suite(get_source("registration"), Decimal("0.05"))
    in_set = [e for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_in_set"]
    assert {e["kwargs"]["column"] for e in in_set} == {"entity_type", "txn_type", "channel"}
    assert all(e["kwargs"]["mostly"] == 0.95 for e in in_set)
    unique = next(
        e for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_unique"
    )
    assert "mostly" not in unique["kwargs"]


@pytest.mark.parametrize("code", sorted(SOURCES))
def test_apply_threshold_equals_building_with_it(code: str) -> None:
    threshold = Decimal("0.1")
    assert apply_threshold(load_suite(code), threshold) == build_suite(get_source(code), threshold)


def test_compound_key_and_period_parameters() -> None:
    suite = build_suite(get_source("ip_stats"))
    types = {e["type"]: e["kwargs"] for e in suite["expectations"]}
    assert types["expect_compound_columns_to_be_unique"]["column_list"] == ["month", "region"]
    period = next(
        e["kwargs"]
        for e in suite["expectations"]
        if e["kwargs"].get("column") == "partition_date" and "min_value" in e["kwargs"]
    )
    assert period["min_value"] == {"$PARAMETER": "period_start"}
    assert period["max_value"] == {"$PARAMETER": "period_end"}


def test_declared_ranges_and_types() -> None:
    suite = build_suite(get_source("special_equipment"))
    by_column = [(e["type"], e["kwargs"]) for e in suite["expectations"]]
    assert (
        "expect_column_values_to_be_between",
        {"column": "units", "min_value": 1, "max_value": 500},
    ) in by_column
    assert ("expect_column_values_to_be_of_type", {"column": "reg_no", "type_": "str"}) in by_column
    pledge = build_suite(get_source("ip_pledge"))
    amount = next(
        e["kwargs"]
        for e in pledge["expectations"]
        if e["kwargs"].get("column") == "amount_wan" and e["type"].endswith("between")
    )
    assert amount == {"column": "amount_wan", "min_value": 0, "strict_min": True}


def test_mostly_for_rejects_nonsense() -> None:
    assert mostly_for(Decimal("0")) == 1.0
    with pytest.raises(ValueError):
        mostly_for(Decimal("1.5"))
