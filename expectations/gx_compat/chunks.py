"""Validating a large file chunk by chunk: GX 1.24's map-expectation arithmetic, re-implemented.

A file with more accepted rows than a chunk is validated one chunk frame at a time, and the
chunk results are merged into the result one run over the whole file would have given: counts
summed, `mostly` applied to the file's share, percentages and statistics recomputed as GX 1.24
computes them, uniqueness recomputed over the whole key column(s). This is GX's arithmetic,
not its API, so it is part of the compatibility module: used only on the GX versions it was
tested against (`gx_compat.active()`); otherwise the audit validates the file as one frame.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.spool import SpooledRows

if TYPE_CHECKING:
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )


def raised_infos(exception_info: Any) -> list[dict[str, Any]]:
    """GX gives either one info dict or a dict of them keyed by metric."""
    if not isinstance(exception_info, dict):
        return []
    if "raised_exception" in exception_info:
        return [exception_info] if exception_info.get("raised_exception") else []
    return [i for i in exception_info.values() if isinstance(i, dict) and i.get("raised_exception")]


ROW_COUNT = "expect_table_row_count_to_be_between"
# Per-chunk answers would miss a key repeated in two chunks: recomputed over the whole file.
UNIQUENESS = frozenset(
    {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"}
)


@dataclass(frozen=True)
class MapCounts:
    """The counts a GX map expectation reports. `missing_count` is None where GX reports none
    (`expect_column_values_to_not_be_null`: every row is considered)."""

    element_count: int
    unexpected_count: int
    missing_count: int | None = None


def map_outcome(counts: MapCounts, mostly: float | None) -> tuple[bool, dict[str, Any]]:
    """Success and count/percentage keys of a map expectation from its counts, computed as
    GX 1.24 does (`ColumnMapExpectation._validate`, `_mostly_success`, `_format_map_output`),
    so that merged chunk counts give what one run over the whole file would have given."""
    element, unexpected, missing = (
        counts.element_count,
        counts.unexpected_count,
        counts.missing_count,
    )
    mostly = 1.0 if mostly is None else mostly
    considered = element if missing is None else element - missing
    if element == 0 or considered == 0:
        success = True  # vacuously, as GX
    else:
        success = (float(considered) - float(unexpected)) / float(considered) >= mostly
    percent_total = unexpected / element * 100 if element > 0 else None
    result: dict[str, Any] = {"element_count": element, "unexpected_count": unexpected}
    if missing is None:
        result["unexpected_percent"] = percent_total
        return success, result
    percent_nonmissing = unexpected / considered * 100 if element > 0 and considered > 0 else None
    result["unexpected_percent"] = percent_nonmissing
    result["missing_count"] = missing
    result["missing_percent"] = missing / element * 100 if element > 0 else None
    result["unexpected_percent_total"] = percent_total
    result["unexpected_percent_nonmissing"] = percent_nonmissing
    return success, result


def uniqueness_columns(kind: str, kwargs: Mapping[str, Any]) -> list[str]:
    """The column(s) a uniqueness expectation reads."""
    if kind == "expect_column_values_to_be_unique":
        return [kwargs["column"]]
    return list(kwargs["column_list"])


def uniqueness_counts(frame: pd.DataFrame, kind: str, kwargs: Mapping[str, Any]) -> MapCounts:
    """GX's pandas uniqueness over the whole file (`frame`: at least the key columns, as
    `validation_frame` gives them). As GX: null values (a single key) or ignored rows (compound
    key, `ignore_row_if`, default `all_values_are_missing`) are missing, not checked; every
    occurrence of a repeated value counts as unexpected (`duplicated(keep=False)`)."""
    if kwargs.get("row_condition"):
        raise ValueError(f"{kind}: a row_condition cannot be recomputed over the whole file")
    columns = uniqueness_columns(kind, kwargs)
    if kind == "expect_column_values_to_be_unique":
        values = frame[columns[0]]
        present = values[values.notnull()]
        return MapCounts(
            element_count=len(values),
            unexpected_count=int(present.duplicated(keep=False).sum()),
            missing_count=len(values) - len(present),
        )
    if kind != "expect_compound_columns_to_be_unique":
        raise ValueError(f"not a uniqueness expectation: {kind}")
    ignore = kwargs.get("ignore_row_if") or "all_values_are_missing"
    rows = frame[columns]
    if ignore == "all_values_are_missing":
        kept = rows.dropna(axis=0, how="all", subset=columns)
    elif ignore == "any_value_is_missing":
        kept = rows.dropna(axis=0, how="any", subset=columns)
    elif ignore == "never":
        kept = rows
    else:
        raise ValueError(f'unrecognized ignore_row_if "{ignore}"')
    return MapCounts(
        element_count=len(rows),
        unexpected_count=int(kept.duplicated(keep=False).sum()),
        missing_count=len(rows) - len(kept),
    )


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def text_uniqueness(values: pa.ChunkedArray | pa.Array) -> MapCounts:
    """`uniqueness_counts` of one text column, computed in Arrow by sorting: the same counts
    (nulls missing, every occurrence of a repeated string unexpected), without turning millions
    of keys into Python strings as pandas' `duplicated` does (about a third of the memory)."""
    present = values.drop_null()
    size = len(present)
    unexpected = 0
    if size > 1:
        if pa.types.is_string(present.type) and present.nbytes > 2**30:
            present = present.cast(pa.large_string())  # 32-bit offsets of one sorted array
        ordered = present.take(pc.sort_indices(present))
        if isinstance(ordered, pa.ChunkedArray):
            ordered = ordered.combine_chunks()
        same = pc.equal(ordered.slice(1), ordered.slice(0, size - 1))
        same_as_next = same.to_numpy(zero_copy_only=False)
        repeated = np.zeros(size, dtype=bool)
        repeated[1:] |= same_as_next
        repeated[:-1] |= same_as_next
        unexpected = int(repeated.sum())
    return MapCounts(
        element_count=len(values), unexpected_count=unexpected, missing_count=len(values) - size
    )


def _map_counts(result: Mapping[str, Any] | None) -> MapCounts | None:
    """The counts of a map expectation's result, None for any other result."""
    res = result or {}
    element, unexpected = res.get("element_count"), res.get("unexpected_count")
    if not isinstance(element, int) or not isinstance(unexpected, int):
        return None
    missing = res.get("missing_count") if "missing_count" in res else None
    return MapCounts(element, unexpected, missing if isinstance(missing, int) else None)


def _sum_counts(parts: Sequence[MapCounts]) -> MapCounts:
    with_missing = [p.missing_count for p in parts if p.missing_count is not None]
    if with_missing and len(with_missing) != len(parts):
        raise ValueError("chunk results disagree on whether missing values are reported")
    return MapCounts(
        element_count=sum(p.element_count for p in parts),
        unexpected_count=sum(p.unexpected_count for p in parts),
        missing_count=sum(with_missing) if with_missing else None,
    )


def _row_count_success(rows: int, kwargs: Mapping[str, Any]) -> bool:
    """GX's `_validate_metric_value_between` for a row count (bounds optional, strict flags)."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    above = low is None or (rows > low if kwargs.get("strict_min") else rows >= low)
    below = high is None or (rows < high if kwargs.get("strict_max") else rows <= high)
    return bool(above and below)


FileWideCounts = Callable[[str, Mapping[str, Any]], MapCounts]


def merge_expectation(
    items: Sequence[ExpectationValidationResult], file_wide: FileWideCounts | None = None
) -> ExpectationValidationResult:
    """One expectation's result over the whole file from its results on each chunk (in file
    order). `file_wide(kind, kwargs)` counts a uniqueness expectation over the whole file."""
    from great_expectations.core import ExpectationValidationResult

    if not items:
        raise ValueError("no chunk results to merge")
    first = items[0]
    config = first.expectation_config
    kind = config.type if config is not None else ""
    kwargs: Mapping[str, Any] = config.kwargs if config is not None else {}

    def merged(success: bool, result: dict[str, Any]) -> ExpectationValidationResult:
        return ExpectationValidationResult(
            success=success,
            expectation_config=config,
            result=result,
            meta=first.meta,
            exception_info=first.exception_info,
        )

    # A crash in any chunk is the file's crash: no verdict can be merged around it.
    for item in items:
        if raised_infos(item.exception_info):
            return ExpectationValidationResult(
                success=False,
                expectation_config=config,
                result=item.result,
                meta=item.meta,
                exception_info=item.exception_info,
            )
    if kind in UNIQUENESS:
        if file_wide is None:
            raise ValueError(f"{kind} needs the whole file's counts, not the chunks'")
        success, result = map_outcome(file_wide(kind, kwargs), kwargs.get("mostly"))
        return merged(success, result)
    if kind == ROW_COUNT:
        observed = [(item.result or {}).get("observed_value") for item in items]
        if all(isinstance(v, int) for v in observed):
            total = sum(v for v in observed if isinstance(v, int))
            return merged(_row_count_success(total, kwargs), {"observed_value": total})
    counts = [_map_counts(item.result) for item in items]
    map_parts = [c for c in counts if c is not None]
    if len(map_parts) == len(items) and kind != ROW_COUNT:
        success, result = map_outcome(_sum_counts(map_parts), kwargs.get("mostly"))
        return merged(success, result)
    # The column set, a dtype (GX checks the column's dtype, not values, unless it is object),
    # any other kind: the file passes only if every chunk passed; the first failure speaks.
    return next((item for item in items if not item.success), first)


def _expectation_keys(part: ExpectationSuiteValidationResult) -> list[str]:
    """What identifies each expectation across chunk results: its id, else its configuration
    (GX lists the results of one suite in an order that depends on which ones raised)."""
    keys: list[str] = []
    for item in part.results:
        config = item.expectation_config
        if config is not None and config.id:
            key = f"id {config.id}"
        elif config is not None:
            key = f"{config.type} {json.dumps(config.kwargs, sort_keys=True, default=str)}"
        else:
            key = "?"
        while key in keys:
            key += "'"
        keys.append(key)
    return keys


def _raised_first(part: ExpectationSuiteValidationResult, keys: list[str]) -> set[str]:
    """Expectations that GX reported ahead of the others because they raised before
    validation (a metric could not be computed): the leading results that raised."""
    leading: set[str] = set()
    for key, item in zip(keys, part.results, strict=True):
        if not raised_infos(item.exception_info):
            break
        leading.add(key)
    return leading


def merge_results(
    parts: Sequence[ExpectationSuiteValidationResult], file_wide: FileWideCounts | None = None
) -> ExpectationSuiteValidationResult:
    """One suite result for a file validated chunk by chunk (`parts` in file order): each
    expectation merged by `merge_expectation`, statistics and success recomputed as GX does.

    Results are matched by expectation id and listed as one GX run would list them: those
    that raised before validation in any chunk first, then the others, each in the order of
    the first chunk where nothing raised (else the first chunk). Run and batch metadata are the
    first chunk's."""
    from great_expectations.core import ExpectationSuiteValidationResult

    if not parts:
        raise ValueError("no chunk results to merge")
    first = parts[0]
    first_keys = _expectation_keys(first)
    by_key: dict[str, list[ExpectationValidationResult]] = {k: [] for k in first_keys}
    order: list[str] | None = None
    raised_first: set[str] = set()
    for part in parts:
        keys = _expectation_keys(part)
        if len(keys) != len(by_key) or set(keys) != set(by_key):
            raise ValueError("chunk results hold different expectations")
        for key, item in zip(keys, part.results, strict=True):
            by_key[key].append(item)
        raised_first |= _raised_first(part, keys)
        if order is None and not any(raised_infos(item.exception_info) for item in part.results):
            order = keys
    position = {k: i for i, k in enumerate(order or first_keys)}
    ranked = sorted(by_key, key=lambda k: (k not in raised_first, position[k]))
    results = [merge_expectation(by_key[k], file_wide) for k in ranked]
    return ExpectationSuiteValidationResult(
        success=all(item.success for item in results),
        results=results,
        suite_name=first.suite_name,
        suite_parameters=first.suite_parameters,
        statistics=validation_statistics(results),
        meta=first.meta,
        batch_id=first.batch_id,
        result_url=first.result_url,
        id=first.id,
    )


def validation_statistics(results: Sequence[ExpectationValidationResult]) -> dict[str, Any]:
    """`result.statistics` as GX computes them (`calc_validation_statistics`)."""
    evaluated = len(results)
    successful = sum(1 for item in results if item.success)
    return {
        "evaluated_expectations": evaluated,
        "successful_expectations": successful,
        "unsuccessful_expectations": evaluated - successful,
        "success_percent": successful / evaluated * 100 if evaluated else None,
    }


def file_wide_counts(
    rows: pa.Table | pd.DataFrame | SpooledRows,
    frame_of: Callable[[pd.DataFrame | pa.Table], pd.DataFrame],
) -> FileWideCounts:
    """Uniqueness over every accepted row, reading only the key column(s); `frame_of` turns
    those columns into the frame GX would see."""

    def counts(kind: str, kwargs: Mapping[str, Any]) -> MapCounts:
        if kwargs.get("row_condition"):
            raise ValueError(f"{kind}: a row_condition cannot be recomputed over the whole file")
        names = uniqueness_columns(kind, kwargs)
        if isinstance(rows, pd.DataFrame):
            return uniqueness_counts(frame_of(rows[names]), kind, kwargs)
        keys = rows.columns(names) if isinstance(rows, SpooledRows) else rows.select(names)
        if kind == "expect_column_values_to_be_unique" and _is_text(keys.schema.field(0).type):
            return text_uniqueness(keys.column(0))
        return uniqueness_counts(frame_of(keys), kind, kwargs)

    return counts
