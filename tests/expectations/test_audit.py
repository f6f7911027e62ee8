"""The audit step: verdicts, stored results, Data Docs, no personal data, no network."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
import pytest

from connectors.batch import ExtractedBatch
from connectors.sources import SOURCES
from expectations.audit import AuditOutcome, audit_batch, build_data_docs, gx_context

FIVE_PERCENT = Decimal("0.05")
# Looks like a resident identity number (GB 11643 layout); must never be written anywhere.
FAKE_RESIDENT_ID = "110101199003071237"

MakeBatch = Callable[..., ExtractedBatch]


def run(batch: ExtractedBatch, docs: Path, **kw: Any) -> AuditOutcome:
    kw.setdefault("threshold", FIVE_PERCENT)
    kw.setdefault("build_docs", False)
    return audit_batch(batch, data_docs_dir=docs, **kw)


def files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.mark.parametrize("dates", ["object", "datetime64"])
@pytest.mark.parametrize("code", sorted(SOURCES))
def test_good_batch_passes(make_batch: MakeBatch, tmp_path: Path, code: str, dates: str) -> None:
    batch = make_batch(code, 12, dates=dates)
    outcome = run(batch, tmp_path)
    assert outcome.success, outcome.failures
    assert outcome.failures == []
    stats = outcome.statistics
    assert stats["evaluated_expectations"] == stats["successful_expectations"] > 5
    assert stats["rows"] == 12
    assert outcome.result_path is not None
    stored = json.loads(Path(outcome.result_path).read_text(encoding="utf-8"))
    assert stored["success"] is True and stored["suite_name"] == code


def test_duplicate_key_fails(make_batch: MakeBatch, tmp_path: Path) -> None:
    def duplicate(f: pd.DataFrame) -> None:
        f.loc[1, "txn_id"] = f.loc[0, "txn_id"]

    outcome = run(make_batch("registration", edit=duplicate), tmp_path)
    assert not outcome.success
    assert outcome.failures == [
        "expect_column_values_to_be_unique(txn_id) failed [natural key unique per file]: "
        "2 of 10 rows unexpected"
    ]


def test_duplicate_compound_key_fails(make_batch: MakeBatch, tmp_path: Path) -> None:
    def duplicate(f: pd.DataFrame) -> None:
        f.loc[1, "region"] = f.loc[0, "region"]

    outcome = run(make_batch("ip_stats", 4, edit=duplicate), tmp_path)
    assert not outcome.success
    assert outcome.failures[0].startswith(
        "expect_compound_columns_to_be_unique(month, region) failed"
    )


@pytest.mark.parametrize("outside", [date(2023, 12, 31), date(2024, 2, 1)])
def test_row_outside_period_fails(make_batch: MakeBatch, tmp_path: Path, outside: date) -> None:
    def move(f: pd.DataFrame) -> None:
        f.loc[3, "partition_date"] = outside
        f.loc[3, "inspected_on"] = outside

    outcome = run(make_batch("inspections", edit=move), tmp_path)
    assert not outcome.success
    assert (
        "expect_column_values_to_be_between(partition_date) failed "
        "[partition date inside the declared period]: 1 of 10 rows unexpected"
    ) in outcome.failures


def test_period_comes_from_the_file_not_the_suite(make_batch: MakeBatch, tmp_path: Path) -> None:
    march = (date(2024, 3, 1), date(2024, 3, 31))
    assert run(make_batch("cases", period=march, dates="datetime64"), tmp_path).success


def _bad_channel(count: int) -> Callable[[pd.DataFrame], None]:
    def edit(f: pd.DataFrame) -> None:
        f.loc[: count - 1, "channel"] = "其他渠道"

    return edit


def test_enum_share_above_threshold_fails(make_batch: MakeBatch, tmp_path: Path) -> None:
    outcome = run(make_batch("registration", 100, edit=_bad_channel(6)), tmp_path)
    assert not outcome.success
    assert outcome.failures == [
        "expect_column_values_to_be_in_set(channel) failed [closed value set; share outside it "
        "at most the reject threshold]: 6 of 100 rows unexpected (6.0 % > tolerated 5.0 %)"
    ]


def test_enum_share_below_threshold_passes(make_batch: MakeBatch, tmp_path: Path) -> None:
    assert run(make_batch("registration", 100, edit=_bad_channel(4)), tmp_path).success


def test_configured_threshold_is_applied(make_batch: MakeBatch, tmp_path: Path) -> None:
    batch = make_batch("registration", 100, edit=_bad_channel(6))
    assert run(batch, tmp_path, threshold=Decimal("0.10")).success
    assert not run(batch, tmp_path, threshold=Decimal("0.02")).success


def test_empty_batch_fails_row_count(make_batch: MakeBatch, tmp_path: Path) -> None:
    outcome = run(make_batch("cases", 0), tmp_path)
    assert not outcome.success
    assert outcome.failures == [
        "expect_table_row_count_to_be_between failed [a file has data rows]: 0 rows"
    ]


def test_missing_column_is_named(make_batch: MakeBatch, tmp_path: Path) -> None:
    outcome = run(make_batch("cases", edit=lambda f: f.pop("title")), tmp_path)
    assert not outcome.success
    assert (
        "expect_table_columns_to_match_set failed [every declared field is present]: "
        "missing columns: title"
    ) in outcome.failures


def test_null_in_required_column_fails(make_batch: MakeBatch, tmp_path: Path) -> None:
    def blank(f: pd.DataFrame) -> None:
        f.loc[2, "pledgor"] = None

    outcome = run(make_batch("ip_pledge", edit=blank), tmp_path)
    assert outcome.failures == [
        "expect_column_values_to_not_be_null(pledgor) failed [required (K, P, R, enum, bool)]: "
        "1 of 10 rows unexpected"
    ]


def test_date_order_and_future_dates(make_batch: MakeBatch, tmp_path: Path) -> None:
    def swap(f: pd.DataFrame) -> None:
        f.loc[0, "applied_on"] = date(2024, 1, 20)
        f.loc[0, "approved_on"] = f.loc[0, "partition_date"] = date(2024, 1, 10)

    outcome = run(make_batch("registration", edit=swap), tmp_path)
    assert [line.split(" failed")[0] for line in outcome.failures] == [
        "expect_column_pair_values_a_to_be_greater_than_b(approved_on, applied_on)"
    ]
    # Dates after the audit day: a warning past the threshold, never a verdict (rule 6 has no
    # such reason), so the file is still published and the operator is told.
    early = date(2024, 1, 5)
    outcome = run(make_batch("registration", dates="datetime64"), tmp_path, today=early)
    assert outcome.success
    assert outcome.failures == []
    assert any(
        line.startswith("expect_column_values_to_be_between(applied_on) failed [not after today")
        for line in outcome.warnings
    )
    # With a critical failure as well, the warning stays a warning and the failure decides.
    outcome = run(make_batch("registration", edit=swap), tmp_path, today=early)
    assert not outcome.success
    assert [line.split(" failed")[0] for line in outcome.failures] == [
        "expect_column_pair_values_a_to_be_greater_than_b(approved_on, applied_on)"
    ]
    assert outcome.warnings


def test_wrong_type_and_crashing_expectation_are_reported(
    make_batch: MakeBatch, tmp_path: Path
) -> None:
    def text_in_int(f: pd.DataFrame) -> None:
        f["units"] = f["units"].astype(object)
        f.loc[0, "units"] = FAKE_RESIDENT_ID

    outcome = run(make_batch("special_equipment", edit=text_in_int), tmp_path, build_docs=True)
    assert not outcome.success
    assert any(
        line.startswith("expect_column_values_to_be_between(units) failed")
        and "raised TypeError" in line
        for line in outcome.failures
    )
    assert files_containing(tmp_path, FAKE_RESIDENT_ID) == []
    stored = Path(outcome.result_path or "").read_text(encoding="utf-8")
    assert "message withheld" in stored


def test_no_personal_data_in_results_or_docs(make_batch: MakeBatch, tmp_path: Path) -> None:
    def plant(f: pd.DataFrame) -> None:
        f.loc[[0, 1], "case_no"] = FAKE_RESIDENT_ID  # duplicate key
        f.loc[2, "category"] = FAKE_RESIDENT_ID  # outside the value set
        f.loc[3, "party_id"] = FAKE_RESIDENT_ID
        f.loc[4, "party_name"] = None

    batch = make_batch("cases", 20, edit=plant)
    outcome = run(batch, tmp_path, build_docs=True)
    assert not outcome.success
    index = build_data_docs(tmp_path)
    assert index.is_file()
    assert FAKE_RESIDENT_ID not in repr(outcome)
    assert files_containing(tmp_path, FAKE_RESIDENT_ID) == []


def test_gx_default_result_format_would_leak() -> None:
    """Why the audit sets its own result format: GX's default copies offending values."""
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": pd.DataFrame({"k": [FAKE_RESIDENT_ID] * 2})})
    )
    result = batch.validate(gxe.ExpectColumnValuesToBeUnique(column="k"))
    assert FAKE_RESIDENT_ID in str(result.to_json_dict())


def test_the_audit_asks_gx_for_counts_only(
    make_batch: MakeBatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No index lists of unexpected rows (GX filters a copy of the whole frame for each check
    to build one): the stored result is the same as with GX's SUMMARY format, which has them."""
    from great_expectations.execution_engine import execution_engine

    import expectations.audit as audit

    requested: list[str] = []
    provider = execution_engine.get_metric_provider

    def spy(metric_name: str, execution_engine: Any) -> Any:
        requested.append(metric_name)
        return provider(metric_name=metric_name, execution_engine=execution_engine)

    monkeypatch.setattr(execution_engine, "get_metric_provider", spy)

    def broken(f: pd.DataFrame) -> None:
        f.loc[1, "txn_id"] = f.loc[0, "txn_id"]
        f.loc[2, "uscc"] = None

    batch = make_batch("registration", edit=broken)
    ours = run(batch, tmp_path)
    assert requested and not [n for n in requested if n.endswith(".unexpected_index_list")]
    requested.clear()
    summary_format = {**audit.RESULT_FORMAT, "result_format": "SUMMARY"}
    monkeypatch.setattr(audit, "RESULT_FORMAT", summary_format)
    summary = run(batch, tmp_path)  # the same suite, the same expectation ids
    assert [n for n in requested if n.endswith(".unexpected_index_list")]
    assert not ours.success and len(ours.failures) == 2
    assert ours.failures == summary.failures

    def stored(outcome: AuditOutcome) -> Any:
        assert outcome.result_path is not None
        return json.loads(Path(outcome.result_path).read_text(encoding="utf-8"))["results"]

    assert stored(ours) == stored(summary)


def test_data_docs_are_optional_per_call_and_built_at_the_end(
    make_batch: MakeBatch, tmp_path: Path
) -> None:
    first = run(make_batch("ip_cases"), tmp_path, build_docs=False)
    second = run(make_batch("medical_device"), tmp_path, build_docs=False)
    assert not (tmp_path / "index.html").exists()
    index = build_data_docs(tmp_path)
    assert index == tmp_path.resolve() / "index.html"
    html = index.read_text(encoding="utf-8")
    assert "ip_cases" in html and "medical_device" in html and "20240101-20240131_v1" in html
    pages = list((tmp_path / "validations").rglob("*.html"))
    assert len(pages) == 2
    assert first.result_path and second.result_path
    assert all(
        Path(p).is_relative_to(tmp_path.resolve() / "results")
        for p in (first.result_path, second.result_path)
    )


def test_build_docs_per_call(make_batch: MakeBatch, tmp_path: Path) -> None:
    run(make_batch("ip_pledge"), tmp_path, build_docs=True)
    assert (tmp_path / "index.html").is_file()
    assert len(list((tmp_path / "validations").rglob("*.html"))) == 1


def test_context_is_cached_per_folder(make_batch: MakeBatch, tmp_path: Path) -> None:
    run(make_batch("ip_cases"), tmp_path)
    assert gx_context(tmp_path) is gx_context(tmp_path)
    assert gx_context(tmp_path) is not gx_context(tmp_path / "other")


def test_analytics_off_and_no_network(
    make_batch: MakeBatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the audit tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    # A fresh folder: the context itself is created while the network is unavailable.
    outcome = run(make_batch("registration"), tmp_path, build_docs=True)
    assert outcome.success
    build_data_docs(tmp_path)
    context = gx_context(tmp_path)
    assert context.config.analytics_enabled is False
    assert os.environ["GX_ANALYTICS_ENABLED"] == "false"


def test_concurrent_audits_from_threads(make_batch: MakeBatch, tmp_path: Path) -> None:
    batches = [make_batch(code) for code in ("registration", "cases", "inspections", "ip_stats")]
    outcomes: list[AuditOutcome] = []

    def work(b: ExtractedBatch) -> None:
        outcomes.append(run(b, tmp_path))

    threads = [threading.Thread(target=work, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 4 and all(o.success for o in outcomes)
    assert len({o.result_path for o in outcomes}) == 4


def test_scrub_removes_values_from_messages_and_lists() -> None:
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    from expectations.audit import failure_lines, scrub_result

    item = ExpectationValidationResult(
        success=False,
        expectation_config=ExpectationConfiguration(
            type="expect_column_values_to_be_between", kwargs={"column": "units", "min_value": 1}
        ),
        result={
            "unexpected_count": 1,
            "element_count": 3,
            "partial_unexpected_list": [FAKE_RESIDENT_ID],
        },
        exception_info={
            "raised_exception": True,
            "exception_message": f"could not convert {FAKE_RESIDENT_ID}",
            "exception_traceback": f"Traceback (most recent call last):\nValueError: could not convert {FAKE_RESIDENT_ID}",
        },
    )
    result = ExpectationSuiteValidationResult(
        success=False, results=[item], suite_name="special_equipment", meta={}
    )
    scrub_result(result)
    text = json.dumps(result.to_json_dict(), ensure_ascii=False)
    assert FAKE_RESIDENT_ID not in text
    assert '"unexpected_count": 1' in text
    assert failure_lines(result) == [
        "expect_column_values_to_be_between(units) failed: raised ValueError"
    ]


def test_real_exports_pass_through_connectors(demo_landing: Path, tmp_path: Path) -> None:
    """One generated export per source, read by the connectors, satisfies its suite."""
    from connectors.extract import extract_file
    from connectors.landing import discover

    files, _ = discover(str(demo_landing))
    first = {f.source: f for f in reversed(files)}
    assert set(first) == set(SOURCES)
    for file in first.values():
        batch = extract_file(file, pii_key=b"test-pii-key")
        assert batch.verdict == "readable", file.relative
        outcome = run(batch, tmp_path)
        assert outcome.success, (file.relative, outcome.failures)
