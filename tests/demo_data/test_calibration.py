"""The demo year read back by the connectors reproduces the published 2024 figures."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from demo_figures import current_rows, figures

from connectors.batch import ExtractedBatch

Demo = tuple[Path, dict[str, Any]]
REASONS = {
    "bad_check_digit",
    "bad_date",
    "bad_enum",
    "missing_required",
    "out_of_period",
    "conflicting_key",
}


def _reference() -> dict[str, dict[str, Any]]:
    """The published figures: the project's copy (tests/demo_data/test_plan.py holds it to the
    contract's shared/spec/reference-2024.json where that is present)."""
    text = (files("demo_data") / "reference-2024.json").read_text("utf-8")
    return json.loads(text)["metrics"]  # type: ignore[no-any-return]


def _matches(expected: dict[str, Any], value: Any) -> bool:
    if "range" in expected:
        low, high = expected["range"]
        return bool(low <= value <= high)
    return Decimal(str(value)) == Decimal(str(expected["value"]))


def test_connector_accounting_is_the_planned_one(
    demo_year: Demo, demo_batches: dict[str, ExtractedBatch]
) -> None:
    _, summary = demo_year
    assert set(demo_batches) == {f["path"] for f in summary["files"]}
    reasons: set[str] = set()
    for f in summary["files"]:
        b = demo_batches[f["path"]]
        assert b.verdict == "readable", (f["path"], b.reason, b.detail)
        assert (b.rows_read, b.rows_accepted, b.rows_rejected, b.rows_duplicate) == (
            f["rows_read"],
            f["rows_accepted"],
            f["rows_rejected"],
            f["rows_duplicate"],
        ), f["path"]
        assert sorted(set(b.rejects["reason"])) == f["reject_reasons"], f["path"]
        reasons |= set(b.rejects["reason"])
    assert reasons >= REASONS


def test_no_personal_data_in_the_summary(
    demo_year: Demo, demo_batches: dict[str, ExtractedBatch]
) -> None:
    _, summary = demo_year
    text = json.dumps(summary, ensure_ascii=False)
    persons = [
        b.accepted_frame()[b.accepted_frame()["party_type"] == "个人"]
        for rel, b in demo_batches.items()
        if rel.startswith("cases/")
    ]
    # Accepted ids are hashed by the connector; the summary holds counts only.
    for frame in persons:
        for pid in frame["party_id"]:
            assert len(str(pid)) != 18 and str(pid) not in text


def test_registration_establishments_after_supersession(
    demo_batches: dict[str, ExtractedBatch],
) -> None:
    rows = current_rows(list(demo_batches.values()))["registration"]
    in_year = rows[
        (rows.approved_on >= date(2024, 1, 1)) & (rows.approved_on <= date(2024, 12, 31))
    ]
    assert int((in_year.txn_type == "设立登记").sum()) == 20071
    # Without the _v2 correction the March figures would be different.
    stale = [
        b
        for rel, b in demo_batches.items()
        if not rel.endswith("_v2.csv") and not rel.endswith("_v2.xlsx")
    ]
    old = current_rows(stale)["registration"]
    assert int((old.txn_type == "设立登记").sum()) != 20071


def test_every_published_figure(demo_batches: dict[str, ExtractedBatch]) -> None:
    computed = figures(current_rows(list(demo_batches.values())), 2024)
    for code, expected in _reference().items():
        assert _matches(expected, computed[code]), (code, computed[code], expected)


def test_the_v2_statistics_count(demo_batches: dict[str, ExtractedBatch]) -> None:
    first = demo_batches["ip_stats/知识产权统计月报_202410.csv"].accepted_frame()
    second = demo_batches["ip_stats/知识产权统计月报_202410_v2.csv"].accepted_frame()
    pj = lambda df: df[df.region == "蓬江区"].iloc[0]  # noqa: E731
    assert pj(second).valid_trademarks == 33196 != pj(first).valid_trademarks


@pytest.mark.slow
def test_pipeline_and_metric_engine_reproduce_the_report(demo_year: Demo, tmp_path: Path) -> None:
    """End to end: ingest (write-audit-publish) into SQLite, then the metric engine."""
    from bureau_stats.settings import load_settings
    from flows.run import ingest
    from metrics.engine import compute_metrics
    from warehouse.engine import open_warehouse

    settings = load_settings(landing=str(demo_year[0]), var_dir=str(tmp_path))
    engine = open_warehouse(settings.resolved_warehouse_url())
    try:
        run = ingest(settings, engine=engine, build_docs=False)
        assert run.count("quarantined") == run.count("failed") == 0
        assert run.count("superseded") == 3  # the first versions of the three corrected periods
        by_as_of: dict[str, dict[str, Any]] = {}
        for code, expected in _reference().items():
            as_of = expected["as_of"]
            if as_of not in by_as_of:
                by_as_of[as_of] = compute_metrics(engine, 2024, as_of=date.fromisoformat(as_of))
            assert _matches(expected, by_as_of[as_of][code]), (code, by_as_of[as_of][code])
    finally:
        engine.dispose()
