"""The audit of a large file, chunk by chunk: the same verdict, failures and stored counts as
one Great Expectations run over the whole file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from great_expectations.core import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from connectors.batch import ExtractedBatch
from connectors.canonical import canonical_schema, canonical_table
from connectors.sources import get_source
from connectors.spool import SpooledRows, SpoolWriter
from expectations import audit, gx_compat
from expectations.audit import RESULT_FORMAT, AuditOutcome, audit_batch
from expectations.gx_compat.chunks import (
    MapCounts,
    map_outcome,
    merge_results,
    text_uniqueness,
    uniqueness_counts,
)
from tests.expectations.conftest import batch_of, make_frame

FIVE_PERCENT = Decimal("0.05")
WHOLE = 10**9  # chunk_rows that keeps any test batch in one piece
CHUNK = 100

MakeBatch = Callable[..., ExtractedBatch]


@pytest.fixture(autouse=True)
def gx_mode() -> Iterator[str]:
    """Chunks exist only with the compatibility module on (test_gx_compat compares them with
    whole-file audits on the public API)."""
    gx_compat.configure(True)
    yield "compat"
    gx_compat.configure(None)


def run(batch: ExtractedBatch, docs: Path, chunk_rows: int, **kw: Any) -> AuditOutcome:
    return audit_batch(
        batch,
        data_docs_dir=docs,
        threshold=FIVE_PERCENT,
        build_docs=False,
        chunk_rows=chunk_rows,
        **kw,
    )


def stored(outcome: AuditOutcome) -> dict[str, Any]:
    """The stored result per expectation: (type, kwargs) -> success, result, raised."""
    assert outcome.result_path is not None
    data = json.loads(Path(outcome.result_path).read_text(encoding="utf-8"))
    out: dict[str, Any] = {"success": data["success"], "statistics": data["statistics"]}
    for item in data["results"]:
        config = item["expectation_config"]
        kwargs = {k: v for k, v in config["kwargs"].items() if k != "batch_id"}
        name = f"{config['type']} {json.dumps(kwargs, sort_keys=True, default=str)}"
        assert name not in out
        out[name] = (item["success"], item["result"], item["exception_info"]["raised_exception"])
    return out


def compare(
    batch: ExtractedBatch, docs: Path, merges: list[int], chunks: int, **kw: Any
) -> tuple[AuditOutcome, AuditOutcome]:
    """Audit a batch whole and chunk by chunk; both must agree in every reported detail."""
    whole = run(batch, docs, WHOLE, **kw)
    assert merges == []
    chunked = run(batch, docs, CHUNK, **kw)
    assert merges == [chunks]
    assert chunked.success == whole.success
    assert chunked.failures == whole.failures
    assert chunked.warnings == whole.warnings
    assert chunked.statistics == whole.statistics
    assert chunked.statistics["rows"] == len(batch.accepted)
    assert chunked.result_path != whole.result_path
    assert stored(chunked) == stored(whole)
    return whole, chunked


# --- whole-file audits against chunked ones ---------------------------------------------------


@pytest.mark.parametrize("code", ["registration", "ip_stats", "special_equipment"])
def test_clean_batch_passes_in_both_modes(
    make_batch: MakeBatch, tmp_path: Path, merges: list[int], code: str
) -> None:
    whole, chunked = compare(make_batch(code, 450), tmp_path, merges, chunks=5)
    assert whole.success and chunked.success
    assert chunked.failures == []
    assert chunked.statistics["evaluated_expectations"] > 5


def _bad_channel(rows: slice) -> Callable[[pd.DataFrame], None]:
    def edit(f: pd.DataFrame) -> None:
        f.loc[rows, "channel"] = "其他渠道"

    return edit


def test_mostly_passes_overall_although_one_chunk_alone_fails(
    make_batch: MakeBatch, tmp_path: Path, merges: list[int]
) -> None:
    # 15 of 400 rows (3.75 %) outside the value set, all of them in the first chunk (15 %).
    batch = make_batch("registration", 400, edit=_bad_channel(slice(0, 14)))
    first_chunk = batch_of("registration", batch.accepted.iloc[:CHUNK].copy())
    alone = run(first_chunk, tmp_path / "alone", WHOLE)
    assert not alone.success
    assert alone.failures[0].startswith("expect_column_values_to_be_in_set(channel) failed")
    assert "15 of 100 rows unexpected" in alone.failures[0]

    whole, chunked = compare(batch, tmp_path, merges, chunks=4)
    assert whole.success and chunked.success
    counts = stored(chunked)
    in_set = [v for k, v in counts.items() if k.startswith("expect_column_values_to_be_in_set")]
    channel = [v for v in in_set if v[1]["unexpected_count"] == 15]
    assert len(channel) == 1
    assert channel[0][1]["element_count"] == 400
    assert channel[0][1]["unexpected_percent"] == pytest.approx(3.75)


def test_mostly_fails_overall_with_the_file_wide_share(
    make_batch: MakeBatch, tmp_path: Path, merges: list[int]
) -> None:
    # 25 of 400 rows (6.25 %) outside the value set, spread over the chunks.
    def spread(f: pd.DataFrame) -> None:
        f.loc[f.index % 16 == 3, "channel"] = "其他渠道"

    whole, chunked = compare(make_batch("registration", 400, edit=spread), tmp_path, merges, 4)
    assert not chunked.success
    assert chunked.failures == [
        "expect_column_values_to_be_in_set(channel) failed [closed value set; share outside it "
        "at most the reject threshold]: 25 of 400 rows unexpected (6.2 % > tolerated 5.0 %)"
    ]


def test_future_dates_are_a_warning_in_both_modes(
    make_batch: MakeBatch, tmp_path: Path, merges: list[int]
) -> None:
    # Every date of the batch's January 2024 period after an audit day of 5 January.
    whole, chunked = compare(
        make_batch("registration", 400), tmp_path, merges, 4, today=date(2024, 1, 5)
    )
    assert chunked.success and chunked.failures == []
    assert [line.split(" failed")[0] for line in chunked.warnings] == [
        "expect_column_values_to_be_between(applied_on)",
        "expect_column_values_to_be_between(approved_on)",
    ]
    assert stored(chunked)["success"] is False  # GX's own verdict is kept in the stored result


def test_key_repeated_in_two_chunks_fails_in_both_modes(
    make_batch: MakeBatch, tmp_path: Path, merges: list[int]
) -> None:
    def duplicate(f: pd.DataFrame) -> None:
        f.loc[250, "txn_id"] = f.loc[10, "txn_id"]  # chunks 1 and 3: each unique on its own

    whole, chunked = compare(make_batch("registration", 300, edit=duplicate), tmp_path, merges, 3)
    assert not whole.success and not chunked.success
    assert chunked.failures == [
        "expect_column_values_to_be_unique(txn_id) failed [natural key unique per file]: "
        "2 of 300 rows unexpected"
    ]


def test_compound_key_repeated_in_two_chunks_fails_in_both_modes(
    make_batch: MakeBatch, tmp_path: Path, merges: list[int]
) -> None:
    def duplicate(f: pd.DataFrame) -> None:
        f.loc[[250, 299], "region"] = f.loc[10, "region"]  # three rows, two chunks

    whole, chunked = compare(make_batch("ip_stats", 300, edit=duplicate), tmp_path, merges, 3)
    assert not chunked.success
    assert chunked.failures == [
        "expect_compound_columns_to_be_unique(month, region) failed "
        "[natural key unique per file]: 3 of 300 rows unexpected"
    ]


def test_expectation_raising_in_one_chunk_fails_the_file(
    make_batch: MakeBatch, tmp_path: Path, merges: list[int]
) -> None:
    def text_in_int(f: pd.DataFrame) -> None:
        f["units"] = f["units"].astype(object)
        f.loc[250, "units"] = "twelve"  # only the third chunk cannot be compared with numbers

    whole, chunked = compare(
        make_batch("special_equipment", 300, edit=text_in_int), tmp_path, merges, 3
    )
    assert not chunked.success
    assert any(
        line.startswith("expect_column_values_to_be_between(units) failed")
        and "raised TypeError" in line
        for line in chunked.failures
    )


def _spool(tmp_path: Path, code: str, frame: pd.DataFrame, block: int = 50) -> SpooledRows:
    """A frame spooled as the connector does it, in record batches of `block` rows."""
    table = canonical_table(get_source(code), frame)
    tmp_path.mkdir(parents=True, exist_ok=True)
    writer = SpoolWriter(tmp_path, canonical_schema(get_source(code)))
    for start in range(0, table.num_rows, block):
        writer.write(table.slice(start, block))
    return writer.finish()


def test_spooled_rows_are_audited_chunk_by_chunk(
    tmp_path: Path, merges: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = make_frame(get_source("registration"), 430)
    frame.loc[400, "txn_id"] = frame.loc[5, "txn_id"]  # chunks 1 and 5
    frame.loc[120:134, "channel"] = "其他渠道"  # 15 rows (3.5 %), all in chunk 2 (15 %)
    spooled = _spool(tmp_path / "spool", "registration", frame)
    (tmp_path / "docs").mkdir()
    batch = batch_of("registration", frame)
    batch.accepted = spooled
    read_whole: list[int] = []
    real_read_all = SpooledRows.read_all

    def read_all(self: SpooledRows) -> pa.Table:
        read_whole.append(self.num_rows)
        return real_read_all(self)

    monkeypatch.setattr(SpooledRows, "read_all", read_all)

    whole, chunked = compare(batch, tmp_path / "docs", merges, chunks=5)
    assert read_whole == [430]  # only the whole-file run read every column at once
    assert chunked.failures == [
        "expect_column_values_to_be_unique(txn_id) failed [natural key unique per file]: "
        "2 of 430 rows unexpected"
    ]
    # The same rows handed over in memory give the same stored counts.
    in_memory = run(batch_of("registration", frame), tmp_path / "docs", WHOLE)
    assert in_memory.failures == chunked.failures
    assert stored(in_memory) == stored(chunked)


@pytest.mark.parametrize("code", ["registration", "ip_stats"])
def test_arrow_table_is_audited_chunk_by_chunk(
    tmp_path: Path, merges: list[int], code: str
) -> None:
    source = get_source(code)
    frame = make_frame(source, 300)
    key = source.key_fields[-1]
    frame.loc[250, key] = frame.loc[10, key]
    batch = batch_of(code, frame)
    batch.accepted = canonical_table(source, frame)
    whole, chunked = compare(batch, tmp_path, merges, chunks=3)
    assert len(chunked.failures) == 1
    assert "unique" in chunked.failures[0] and "2 of 300 rows unexpected" in chunked.failures[0]


def test_small_spooled_file_is_audited_whole(tmp_path: Path, merges: list[int]) -> None:
    frame = make_frame(get_source("cases"), 60)
    batch = batch_of("cases", frame)
    batch.accepted = _spool(tmp_path, "cases", frame)
    outcome = run(batch, tmp_path / "docs", CHUNK)
    assert outcome.success and outcome.statistics["rows"] == 60
    assert merges == []


# --- GX's own semantics, pinned ----------------------------------------------------------------


def _gx_validate(frame: pd.DataFrame, expectation: Any) -> ExpectationValidationResult:
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    return batch.validate(expectation, result_format=RESULT_FORMAT)


_KEYS = pd.DataFrame(
    {
        "m": pd.Series([1, 1, None, None, 1, 1, None, 2, 3, None], dtype="Int64"),
        "r": pd.Series(["x", "x", None, None, None, None, "y", "z", "x", "y"], dtype="str"),
    }
)


@pytest.mark.parametrize(
    ("kind", "kwargs", "expectation"),
    [
        ("expect_column_values_to_be_unique", {"column": "r"}, gxe.ExpectColumnValuesToBeUnique),
        (
            "expect_column_values_to_be_unique",
            {"column": "r", "mostly": 0.5},
            gxe.ExpectColumnValuesToBeUnique,
        ),
        (
            "expect_compound_columns_to_be_unique",
            {"column_list": ["m", "r"]},
            gxe.ExpectCompoundColumnsToBeUnique,
        ),
        *[
            (
                "expect_compound_columns_to_be_unique",
                {"column_list": ["m", "r"], "ignore_row_if": how},
                gxe.ExpectCompoundColumnsToBeUnique,
            )
            for how in ("all_values_are_missing", "any_value_is_missing", "never")
        ],
    ],
)
def test_uniqueness_counts_match_gx(kind: str, kwargs: dict[str, Any], expectation: Any) -> None:
    """Nulls and ignored rows are missing; every occurrence of a repeated value is unexpected."""
    gx_result = _gx_validate(_KEYS, expectation(**kwargs))
    success, result = map_outcome(uniqueness_counts(_KEYS, kind, kwargs), kwargs.get("mostly"))
    assert success == gx_result.success
    assert result == {k: v for k, v in gx_result.result.items() if k in result}
    assert set(gx_result.result) - set(result) == {"partial_unexpected_list"}
    assert result["unexpected_count"] > 0


def _strings(count: int, distinct: int) -> list[str | None]:
    rng = np.random.default_rng(7)
    picks = rng.integers(0, distinct, size=count)
    return [None if k % 400 == 0 else "" if k % 400 == 1 else f"键{k:05d}" for k in picks]


@pytest.mark.parametrize(
    "values",
    [
        [],
        [None, None],
        ["a"],
        ["a", "b", "c"],
        ["x", "x", None, "", "", "y", "x", "日", "日本", "日", None],
        _strings(5_000, 4_000),
    ],
)
def test_text_uniqueness_in_arrow_counts_as_pandas(values: list[str | None]) -> None:
    """The Arrow path for a text key gives GX's pandas counts (nulls missing, all repeats)."""
    arrow = pa.chunked_array(
        [pa.array(values[:3], pa.string()), pa.array(values[3:], pa.string())], pa.string()
    )
    frame = pd.DataFrame({"k": pd.Series(values, dtype="str")})
    expected = uniqueness_counts(frame, "expect_column_values_to_be_unique", {"column": "k"})
    assert text_uniqueness(arrow) == expected
    if len(values) > 100:
        assert 0 < expected.unexpected_count < len(values) and expected.missing_count


@pytest.mark.parametrize(
    ("element", "missing", "unexpected"),
    [(0, 0, 0), (7, 7, 0), (3, 0, 0), (300, 12, 7), (1_000_003, 17, 49_999), (40, None, 3)],
)
def test_map_percentages_match_gx(element: int, missing: int | None, unexpected: int) -> None:
    from great_expectations.expectations.expectation import _format_map_output
    from great_expectations.expectations.expectation_configuration import parse_result_format

    _, result = map_outcome(MapCounts(element, unexpected, missing), None)
    expected = _format_map_output(
        result_format=parse_result_format(RESULT_FORMAT),
        success=True,
        element_count=element,
        nonnull_count=None if missing is None else element - missing,
        unexpected_count=unexpected,
    )["result"]
    assert result == expected


@pytest.mark.parametrize(
    ("considered", "unexpected", "mostly", "success"),
    [(400, 20, 0.95, True), (400, 21, 0.95, False), (100, 0, None, True), (100, 1, None, False)],
)
def test_mostly_is_applied_to_the_merged_counts(
    considered: int, unexpected: int, mostly: float | None, success: bool
) -> None:
    assert map_outcome(MapCounts(considered + 5, unexpected, 5), mostly)[0] is success
    assert map_outcome(MapCounts(considered, unexpected, None), mostly)[0] is success


# --- merging without GX runs ------------------------------------------------------------------


def _item(
    kind: str,
    success: bool,
    result: dict[str, Any],
    raised: str | None = None,
    ident: str | None = None,
    **kwargs: Any,
) -> ExpectationValidationResult:
    info = None
    if raised:
        info = {
            "raised_exception": True,
            "exception_message": raised,
            "exception_traceback": raised,
        }
    return ExpectationValidationResult(
        success=success,
        expectation_config=ExpectationConfiguration(type=kind, kwargs=kwargs, id=ident),
        result=result,
        exception_info=info,
    )


def _suite(*items: ExpectationValidationResult) -> ExpectationSuiteValidationResult:
    return ExpectationSuiteValidationResult(
        success=all(i.success for i in items), results=list(items), suite_name="s", meta={}
    )


def _no_file_wide(kind: str, kwargs: Any) -> MapCounts:
    raise AssertionError("no uniqueness expectation here")


def test_merge_sums_row_counts_and_keeps_first_failing_chunk() -> None:
    columns_ok = {"observed_value": ["a", "b"]}
    columns_bad = {"observed_value": ["a"], "details": {"mismatched": {"missing": ["b"]}}}
    parts = [
        _suite(
            _item(
                "expect_table_row_count_to_be_between",
                True,
                {"observed_value": 60},
                min_value=1,
                max_value=99,
            ),
            _item("expect_table_columns_to_match_set", True, columns_ok, column_set=["a", "b"]),
        ),
        _suite(
            _item(
                "expect_table_row_count_to_be_between",
                True,
                {"observed_value": 40},
                min_value=1,
                max_value=99,
            ),
            _item("expect_table_columns_to_match_set", False, columns_bad, column_set=["a", "b"]),
        ),
    ]
    merged = merge_results(parts, _no_file_wide)
    rows, columns = merged.results
    assert (rows.success, rows.result) == (False, {"observed_value": 100})  # 100 > max 99
    assert (columns.success, columns.result) == (False, columns_bad)
    assert merged.success is False
    assert merged.statistics == {
        "evaluated_expectations": 2,
        "successful_expectations": 0,
        "unsuccessful_expectations": 2,
        "success_percent": 0.0,
    }


def test_merge_keeps_the_exception_of_the_chunk_that_raised() -> None:
    ok = {"element_count": 50, "unexpected_count": 0, "missing_count": 0}
    parts = [
        _suite(_item("expect_column_values_to_be_between", True, ok, column="u", min_value=1)),
        _suite(
            _item(
                "expect_column_values_to_be_between",
                False,
                {},
                raised="TypeError: '>=' not supported",
                column="u",
                min_value=1,
            )
        ),
    ]
    merged = merge_results(parts, _no_file_wide)
    (item,) = merged.results
    assert item.success is False
    assert item.exception_info["exception_message"] == "TypeError: '>=' not supported"
    assert audit.failure_lines(merged) == [
        "expect_column_values_to_be_between(u) failed: raised TypeError"
    ]


def test_merge_matches_expectations_by_id_and_asks_file_wide_uniqueness() -> None:
    def chunk(unique_ok: bool, nulls: int) -> ExpectationSuiteValidationResult:
        unique = _item(
            "expect_column_values_to_be_unique",
            unique_ok,
            {"element_count": 50, "unexpected_count": 0 if unique_ok else 2, "missing_count": 0},
            ident="u",
            column="k",
        )
        null = _item(
            "expect_column_values_to_not_be_null",
            nulls == 0,
            {"element_count": 50, "unexpected_count": nulls},
            ident="n",
            column="k",
        )
        return _suite(unique, null) if unique_ok else _suite(null, unique)

    asked: list[tuple[str, dict[str, Any]]] = []

    def file_wide(kind: str, kwargs: Any) -> MapCounts:
        asked.append((kind, dict(kwargs)))
        return MapCounts(element_count=100, unexpected_count=4, missing_count=1)

    merged = merge_results([chunk(True, 0), chunk(False, 1)], file_wide)
    unique, null = merged.results
    assert asked == [("expect_column_values_to_be_unique", {"column": "k"})]
    assert unique.success is False
    assert unique.result["unexpected_count"] == 4  # the file's duplicates, not the chunks' 2
    assert unique.result["unexpected_percent"] == pytest.approx(4 / 99 * 100)
    assert (null.success, null.result["unexpected_count"], null.result["element_count"]) == (
        False,
        1,
        100,
    )
    assert "missing_count" not in null.result


def test_merge_refuses_chunks_of_different_suites() -> None:
    a = _suite(_item("expect_column_values_to_not_be_null", True, {}, ident="a", column="k"))
    b = _suite(_item("expect_column_values_to_not_be_null", True, {}, ident="b", column="k"))
    with pytest.raises(ValueError, match="different expectations"):
        merge_results([a, b], _no_file_wide)
