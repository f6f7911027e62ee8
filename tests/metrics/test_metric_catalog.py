"""The catalog: exactly the metrics of metrics.md, inheritance as metrics.md reads it, and
clear errors for a catalog that contradicts the source declarations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.sources import MANUAL_CODES
from metrics.catalog import CatalogError, load_catalog, parse_catalog
from metrics.engine import describe

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "metric_codes.txt"


def fixture_codes() -> list[str]:
    """The project's copy of the contract's metric codes (tests/fixtures/metric_codes.txt)."""
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def spec_codes(spec_dir: Path) -> list[str]:
    text = (spec_dir / "metrics.md").read_text(encoding="utf-8")
    return [
        c for c in re.findall(r"^\| ([a-z][a-z_.]+) \|", text, flags=re.MULTILINE) if c != "code"
    ]


def test_catalog_holds_every_metric_of_the_spec_once() -> None:
    """The 54 figures of metrics.md, then the 25 no export holds (the `manual` source, whose
    codes tests/connectors/test_manual_source.py holds to manual-figures-2024.json)."""
    codes = fixture_codes()
    assert len(codes) == len(set(codes)) == 54
    assert load_catalog().codes == codes + list(MANUAL_CODES)


def test_the_copied_codes_are_the_spec_ones(spec_dir: Path) -> None:
    """Where the contract is beside the clone: the fixture is still a faithful copy."""
    assert fixture_codes() == spec_codes(spec_dir)


def test_same_inherits_the_row_above() -> None:
    """`cases.closed.drug_cosmetic_device` = "same, category in (…)": 已结案, closed_on."""
    metric = load_catalog()["cases.closed.drug_cosmetic_device"]
    assert metric.source == "cases" and metric.date == "closed_on"
    conditions = {c.field: (c.op, c.values) for c in metric.filter}
    assert conditions == {
        "status": ("eq", ("已结案",)),
        "category": ("in", ("药品", "化妆品", "医疗器械")),
    }


def test_any_status_drops_the_inherited_condition() -> None:
    metric = load_catalog()["ipcase.ecommerce_leads"]
    assert [c.field for c in metric.filter] == ["kind"]


def test_boolean_filters_read_shi_fou() -> None:
    metric = load_catalog()["random.non_market_entities"]
    assert ("is_market_entity", (False,)) in {(c.field, c.values) for c in metric.filter}


def test_definitions_are_generated_from_the_declaration() -> None:
    catalog = load_catalog()
    text = describe(catalog["cases.closed.food"], catalog)
    assert text == "count of cases rows, status = 已结案, category = 食品, closed_on in window"
    assert "蓬江区" in describe(catalog["ip.valid_invention"], catalog)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            "metrics: [{code: a, label: A, unit: x, area: ip, source: nope, date: d, aggregate: count}]",
            "not a declared source",
        ),
        (
            "metrics: [{code: a, label: A, unit: x, area: ip, source: ip_cases, date: when, aggregate: count}]",
            "no field 'when'",
        ),
        (
            "metrics: [{code: a, label: A, unit: x, area: ip, source: ip_cases, date: received_on, "
            "aggregate: median(kind)}]",
            "unknown aggregate",
        ),
        (
            "metrics: [{code: a, label: A, unit: x, like: b, aggregate: count}]",
            "not in the catalog",
        ),
        (
            "metrics: [{code: a, label: A, unit: x, like: b, aggregate: count},"
            " {code: b, label: B, unit: x, like: a, aggregate: count}]",
            "cycle",
        ),
        (
            "metrics: [{code: a, label: A, unit: x, area: ip, aggregate: 'ratio(a, zz)'}]",
            "unknown metric 'zz'",
        ),
        (
            "metrics: [{code: a, label: A, unit: x, area: enforcement, source: cases, date: filed_on,"
            " filter: {to_police: maybe}, aggregate: count}]",
            "是/否",
        ),
        (
            "metrics: [{code: a, label: A, unit: x, area: ip, source: ip_cases, date: received_on,"
            " aggregate: count, scale: '%3'}]",
            "scale",
        ),
        (
            "metrics: [{code: a, label: A, unit: x, area: ip, source: ip_cases, date: received_on,"
            " aggregate: count}, {code: a, label: A, unit: x, area: ip, source: ip_cases,"
            " date: received_on, aggregate: count}]",
            "defined twice",
        ),
    ],
)
def test_inconsistent_catalogs_are_refused(document: str, message: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(message)):
        parse_catalog(document)


def test_variants_are_other_phrasings_of_the_label() -> None:
    catalog = load_catalog()
    assert catalog["legal.opinions"].variants == ("法律意见书", "出具法律意见书")
    assert catalog["reg.establish"].variants == ("设立登记",)
    assert catalog["cases.to_police"].variants == ()
    document = """
metrics:
  - {code: a, label: A, unit: 件, area: legal, source: manual, date: as_of,
     aggregate: latest_month(value), variants: 法律意见书}
"""
    with pytest.raises(CatalogError, match="variants must be a list"):
        parse_catalog(document)
