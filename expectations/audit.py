"""The audit of write-audit-publish: validate one extracted batch with its Great Expectations suite.

One GX context per process and Data Docs folder (built on first use, then cached): suites and
validation definitions are created once, each batch only runs its validation. The context is
ephemeral (nothing but results and Data Docs touches the disk), analytics are off and nothing
uses the network.

A large file (more than `AUDIT_CHUNK_ROWS` accepted rows, possibly spooled to disk) is
validated chunk by chunk, so that only one chunk is ever a pandas frame; the chunk results are
merged into the one result a single run would have given (`merge_results`), with uniqueness
recomputed over the whole key column(s).

Personal data never reaches a result: GX runs with a result format that keeps counts but no
unexpected values, and every stored result is scrubbed of exception messages (a message can quote
a cell) before it is written under `<data_docs_dir>/results/`. Data Docs are rendered from those
scrubbed results only.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.batch import ExtractedBatch
from connectors.bureau_time import BUREAU_TZ
from connectors.canonical import to_frame
from connectors.sources import SOURCES, Source, get_source
from connectors.spool import SpooledRows, chunks, in_memory
from connectors.verdict import DEFAULT_REJECT_THRESHOLD
from expectations import gx_run
from expectations.build import (
    DATE_TYPES,
    PARTITION_COLUMN,
    PERIOD_END,
    PERIOD_START,
    TODAY,
    WARNING,
    apply_threshold,
    load_suite,
)

if TYPE_CHECKING:
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.core.validation_definition import ValidationDefinition
    from great_expectations.data_context import EphemeralDataContext
    from great_expectations.datasource.fluent import PandasDatasource

# Analytics off before GX is first imported (it reads the variable at import and context time).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

DATASOURCE = "bureau_stats"
BATCH_DEFINITION = "whole_file"
RESULTS_STORE = "audit_results_store"
RESULTS_SUBDIR = "results"
SITE_NAME = "bureau_stats"
# Files with more accepted rows are validated this many rows at a time (one pandas frame of
# a chunk in memory, not of the whole file); the chunk results are merged into one result.
# 131,072: GX's own work per chunk (its metric graph) is a fixed cost; against 65,536 the
# scale-100 backfill's validate stage fell from 23-26 s to 21 s, the main process peaking
# 15-75 MiB higher (491-554 MiB; bench/NOTES.md).
AUDIT_CHUNK_ROWS = 131_072
# Newest results listed and rendered by a full Data Docs build (keeps the build time bounded as
# results accumulate; older result JSON stays on disk).
DOCS_RESULTS_LIMIT = 1000

# Counts only: GX would otherwise copy up to 20 offending values into every failed result.
# BASIC, not SUMMARY: with no partial list the two give the same counts, but SUMMARY also has
# GX build the index list of unexpected rows of every column check (a filtered copy of the
# whole frame per expectation and chunk), which the scrubbed result drops anyway.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "include_unexpected_rows": False,
    "return_unexpected_index_query": False,
}
# Result keys that are counts or percentages (everything else is dropped from stored results).
_SAFE_RESULT_KEYS = frozenset(
    {
        "element_count",
        "missing_count",
        "missing_percent",
        "unexpected_count",
        "unexpected_percent",
        "unexpected_percent_total",
        "unexpected_percent_nonmissing",
    }
)
# Expectations whose observed value is metadata (a row count, a dtype, column names).
_SAFE_OBSERVED = frozenset(
    {
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_of_type",
        "expect_table_columns_to_match_set",
    }
)


@dataclass
class AuditOutcome:
    """The verdict of the audit step for one batch."""

    success: bool  # no failed expectation of `critical` severity (GX's default)
    failures: list[str]  # short human-readable lines, never data values
    result_path: str | None  # the stored validation result (JSON)
    statistics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # failed `warning` expectations, as lines


@dataclass
class _Validation:
    threshold: Decimal
    definition: ValidationDefinition


@dataclass
class _Context:
    context: EphemeralDataContext
    datasource: PandasDatasource
    root: Path
    validations: dict[str, _Validation] = field(default_factory=dict)


_LOCK = threading.RLock()  # a GX context is not thread-safe; the pipeline may audit in threads
_CONTEXTS: dict[Path, _Context] = {}


def _project_config(root: Path) -> Any:
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults()
    stores = dict(defaults.stores)
    stores[RESULTS_STORE] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(root / RESULTS_SUBDIR),
        },
    }
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(root)},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "validation_results_limit": DOCS_RESULTS_LIMIT,
        },
        # Pages come from the scrubbed results on disk, never from GX's transient store.
        "site_section_builders": {
            "validations": {"source_store_name": RESULTS_STORE},
            "profiling": "None",
        },
    }
    return DataContextConfig(
        store_backend_defaults=defaults,
        stores=stores,
        data_docs_sites={SITE_NAME: site},
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )


def import_great_expectations() -> None:
    """GX's first import, with analytics already off and under the lock the audit takes."""
    with _LOCK:
        import great_expectations  # noqa: F401


def _get_context(data_docs_dir: Path) -> _Context:
    """The process-wide GX context for a Data Docs folder (created on first use)."""
    root = Path(data_docs_dir).resolve()
    with _LOCK:
        cached = _CONTEXTS.get(root)
        if cached is not None:
            return cached
        import great_expectations as gx
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every frame under 1 GB (an md5 over all cells): about half the audit
        # time on 1M rows, and a digest of personal data we would only have to scrub again.
        pandas_execution_engine.HASH_THRESHOLD = 0
        gx_run.install()

        root.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="ephemeral", project_config=_project_config(root))
        datasource = context.data_sources.add_pandas(DATASOURCE)
        cached = _Context(context=context, datasource=datasource, root=root)
        _CONTEXTS[root] = cached
        return cached


def gx_context(data_docs_dir: Path) -> EphemeralDataContext:
    """The cached GX context used for `data_docs_dir` (for inspection; do not reconfigure)."""
    return _get_context(data_docs_dir).context


def _get_validation(ctx: _Context, source: Source, threshold: Decimal) -> ValidationDefinition:
    """The validation definition of a source, (re)built when the threshold changes."""
    import great_expectations as gx

    current = ctx.validations.get(source.code)
    if current is not None and current.threshold == threshold:
        return current.definition
    context = ctx.context
    if current is not None:
        context.validation_definitions.delete(current.definition.name)
        context.suites.delete(source.code)
    try:
        asset = ctx.datasource.get_asset(source.code)
    except LookupError:
        asset = ctx.datasource.add_dataframe_asset(source.code)
    try:
        batch_definition = asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
    suite = context.suites.add(
        gx.ExpectationSuite(**apply_threshold(load_suite(source.code), threshold))
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"audit_{source.code}", data=batch_definition, suite=suite)
    )
    ctx.validations[source.code] = _Validation(threshold, definition)
    return definition


# --- pure helpers over frames and results ---------------------------------------------------


def _as_datetime_ns(values: pd.Series) -> pd.Series:
    """Dates as datetime64[ns]: GX 1.24 compares only that dtype vectorized, and cannot compare
    pandas 3's default datetime64[us] (nor python `date` cells) with its date parameters."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert(BUREAU_TZ).dt.tz_localize(None)
    if not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values, errors="coerce")
    if values.dtype != "datetime64[ns]":
        lo, hi = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")
        values = values.clip(lower=lo, upper=hi).astype("datetime64[ns]")
    return values


def validation_frame(source: Source, accepted: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """The frame GX sees: the accepted rows with dates as datetime64[ns] and gap-free Int64
    columns as int64 (GX checks ranges on numpy dtypes vectorized, on others row by row).

    A pandas frame is only shallow-copied: the caller's frame is left untouched.
    """
    dates = [c.field for c in source.columns if c.type in DATE_TYPES] + [PARTITION_COLUMN]
    if isinstance(accepted, pa.Table):
        view = to_frame(accepted, date_as_object=False)
    else:
        view = accepted.copy(deep=False)
    for name in dates:
        if name in view.columns:
            view[name] = _as_datetime_ns(view[name])
    for name in [c.field for c in source.columns if c.type == "int"]:
        if name in view.columns:
            values = view[name]
            if isinstance(values.dtype, pd.Int64Dtype) and not values.hasnans:
                view[name] = values.to_numpy(dtype="int64")
    return view


def suite_parameters(period_start: date, period_end: date, today: date) -> dict[str, str]:
    """Values of the suite's `$PARAMETER`s, as ISO datetimes (GX reads them as datetimes)."""
    return {
        PERIOD_START: datetime.combine(period_start, time()).isoformat(),
        PERIOD_END: datetime.combine(period_end, time()).isoformat(),
        TODAY: datetime.combine(today, time()).isoformat(),
    }


_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*(?:Error|Exception))(?::|$)")
_WITHHELD = "(message withheld: it may quote data)"


def _exception_names(info: dict[str, Any]) -> list[str]:
    """Exception classes named in a GX traceback or scrubbed message, never their messages."""
    text = info.get("exception_traceback") or info.get("exception_message") or ""
    names = []
    for line in str(text).splitlines():
        match = _EXCEPTION_LINE.match(line)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names or ["Exception"]


def _raised(exception_info: Any) -> list[dict[str, Any]]:
    """GX gives either one info dict or a dict of them keyed by metric."""
    if not isinstance(exception_info, dict):
        return []
    if "raised_exception" in exception_info:
        return [exception_info] if exception_info.get("raised_exception") else []
    return [i for i in exception_info.values() if isinstance(i, dict) and i.get("raised_exception")]


def scrub_result(result: ExpectationSuiteValidationResult) -> None:
    """Keep counts, drop anything that could hold a cell value (in place)."""
    for item in result.results:
        kind = item.expectation_config.type if item.expectation_config else ""
        raised = _raised(item.exception_info)
        if raised:
            names = list(dict.fromkeys(n for info in raised for n in _exception_names(info)))
            text = "\n".join(f"{name}: {_WITHHELD}" for name in names)
            # The Data Docs renderer needs a traceback string; it gets the same withheld text.
            item.exception_info = {
                "raised_exception": True,
                "exception_message": text,
                "exception_traceback": text,
            }
        kept = {k: v for k, v in (item.result or {}).items() if k in _SAFE_RESULT_KEYS}
        if kind in _SAFE_OBSERVED and "observed_value" in (item.result or {}):
            kept["observed_value"] = item.result["observed_value"]
        if kind == "expect_table_columns_to_match_set" and "details" in (item.result or {}):
            kept["details"] = item.result["details"]
        item.result = kept
    markers = result.meta.get("batch_markers")
    if isinstance(markers, dict):
        markers.pop("pandas_data_fingerprint", None)


def _subject(kwargs: dict[str, Any]) -> str:
    if "column" in kwargs:
        return f"({kwargs['column']})"
    if "column_list" in kwargs:
        return f"({', '.join(kwargs['column_list'])})"
    if "column_A" in kwargs:
        return f"({kwargs['column_A']}, {kwargs['column_B']})"
    return ""


def is_warning(item: ExpectationValidationResult) -> bool:
    config = item.expectation_config
    severity = getattr(config, "severity", None)
    return str(getattr(severity, "value", severity)) == WARNING


def failure_lines(result: ExpectationSuiteValidationResult, *, warnings: bool = False) -> list[str]:
    """One short line per failed expectation of the severity asked for (critical ones, or with
    `warnings` those of severity warning): what failed and how much, never which values."""
    lines = []
    for item in result.results:
        if item.success or is_warning(item) != warnings:
            continue
        config = item.expectation_config
        if config is None:
            lines.append("an expectation failed")
            continue
        head = f"{config.type}{_subject(config.kwargs)} failed"
        rule = (config.meta or {}).get("rule")
        if rule:
            head += f" [{rule}]"
        res = item.result or {}
        raised = _raised(item.exception_info)
        if raised:
            names = dict.fromkeys(n for info in raised for n in _exception_names(info))
            detail = f"raised {', '.join(names)}"
        elif "unexpected_count" in res:
            detail = f"{res['unexpected_count']} of {res.get('element_count', '?')} rows unexpected"
            mostly = config.kwargs.get("mostly")
            if mostly is not None and mostly < 1:
                detail += f" ({res.get('unexpected_percent_nonmissing') or 0:.1f} % > tolerated {100 * (1 - mostly):.1f} %)"
        elif config.type == "expect_table_row_count_to_be_between":
            detail = f"{res.get('observed_value')} rows"
        elif config.type == "expect_column_values_to_be_of_type":
            detail = f"dtype {res.get('observed_value')}, expected {config.kwargs.get('type_')}"
        elif config.type == "expect_table_columns_to_match_set":
            missing = (res.get("details") or {}).get("mismatched", {}).get("missing") or []
            detail = f"missing columns: {', '.join(missing)}" if missing else "column set differs"
        else:
            detail = ""
        lines.append(f"{head}: {detail}" if detail else head)
    return lines


# --- merging the results of a file validated chunk by chunk ----------------------------------

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
        if _raised(item.exception_info):
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
        if not _raised(item.exception_info):
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
        if order is None and not any(_raised(item.exception_info) for item in part.results):
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


# --- the audit --------------------------------------------------------------------------------


def _run_name(batch: ExtractedBatch) -> str:
    f = batch.file
    return f"{f.period_start:%Y%m%d}-{f.period_end:%Y%m%d}_v{f.version}"


def _forget_batch_data(ctx: _Context) -> None:
    """GX's pandas engine keeps the last frame validated for each asset, and every metric
    computed on it (row-long boolean series), until that asset is validated again: drop them
    after each run, so a validated chunk is freed before the next one is built."""
    engine = ctx.datasource.get_execution_engine()
    engine.batch_manager.reset_batch_cache()
    metric_cache = getattr(engine, "_metric_cache", None)
    if isinstance(metric_cache, dict):
        metric_cache.clear()


def _file_wide_counts(
    source: Source, rows: pa.Table | pd.DataFrame | SpooledRows
) -> FileWideCounts:
    """Uniqueness over every accepted row, reading only the key column(s)."""

    def counts(kind: str, kwargs: Mapping[str, Any]) -> MapCounts:
        if kwargs.get("row_condition"):
            raise ValueError(f"{kind}: a row_condition cannot be recomputed over the whole file")
        names = uniqueness_columns(kind, kwargs)
        if isinstance(rows, pd.DataFrame):
            return uniqueness_counts(validation_frame(source, rows[names]), kind, kwargs)
        keys = rows.columns(names) if isinstance(rows, SpooledRows) else rows.select(names)
        if kind == "expect_column_values_to_be_unique" and _is_text(keys.schema.field(0).type):
            return text_uniqueness(keys.column(0))
        return uniqueness_counts(validation_frame(source, keys), kind, kwargs)

    return counts


def audit_batch(
    batch: ExtractedBatch,
    *,
    data_docs_dir: Path,
    threshold: Decimal = DEFAULT_REJECT_THRESHOLD,
    build_docs: bool = True,
    today: date | None = None,
    chunk_rows: int = AUDIT_CHUNK_ROWS,
) -> AuditOutcome:
    """Validate a batch's accepted rows with its source's suite; store the (PII-free) result.

    `success=False` means a batch-level failure: the warehouse quarantines the file with
    reason `suite_failed`. `build_docs=False` skips Data Docs (the flow builds them once at the
    end of a run with `build_data_docs`).

    Up to `chunk_rows` accepted rows are validated as one frame. More (a large or spooled file)
    are validated `chunk_rows` at a time and the chunk results merged into one result
    (`merge_results`; uniqueness is recomputed over the whole key column), so memory holds one
    chunk's frame, not the file's.
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    source = get_source(batch.source)
    rows: pa.Table | pd.DataFrame | SpooledRows = batch.accepted
    whole = len(rows) <= chunk_rows
    frame = validation_frame(source, in_memory(rows)) if whole else None
    params = suite_parameters(
        batch.file.period_start, batch.file.period_end, today or datetime.now(BUREAU_TZ).date()
    )
    run_id = RunIdentifier(run_name=_run_name(batch), run_time=datetime.now(UTC))
    with _LOCK:
        ctx = _get_context(data_docs_dir)
        definition = _get_validation(ctx, source, Decimal(threshold))

        def validate(view: pd.DataFrame) -> ExpectationSuiteValidationResult:
            try:
                return gx_run.validate_frame(definition, view, params, RESULT_FORMAT, run_id)
            finally:
                _forget_batch_data(ctx)

        if frame is not None:
            result = validate(frame)
            del frame
        else:
            # One chunk at a time: converted, validated and dropped before the next is read.
            parts = []
            for chunk in chunks(rows, chunk_rows):
                view = validation_frame(source, chunk)
                del chunk
                parts.append(validate(view))
                del view
            result = merge_results(parts, _file_wide_counts(source, rows))
        scrub_result(result)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=source.code),
            run_id=run_id,
            batch_identifier=batch.sha256[:16] or "unknown",
        )
        store = ctx.context.stores[RESULTS_STORE]
        store.set(key, result)
        result_path = ctx.root / RESULTS_SUBDIR / Path(*key.to_tuple()).with_suffix(".json")
        if build_docs:
            ctx.context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[key])
    statistics = dict(result.statistics)
    statistics["rows"] = len(rows)
    failures = failure_lines(result)
    return AuditOutcome(
        success=bool(result.success) or not failures,
        failures=failures,
        warnings=failure_lines(result, warnings=True),
        result_path=str(result_path) if result_path.exists() else None,
        statistics=statistics,
    )


def build_data_docs(data_docs_dir: Path, *, threshold: Decimal | None = None) -> Path:
    """Render Data Docs from every stored result under `data_docs_dir`; returns index.html.

    Every source's suite gets a page, including sources this process has not audited (their
    results may come from other runs or processes); `threshold` sets their tolerance.
    """
    with _LOCK:
        ctx = _get_context(data_docs_dir)
        wanted = DEFAULT_REJECT_THRESHOLD if threshold is None else Decimal(threshold)
        for code, source in SOURCES.items():
            if code not in ctx.validations or threshold is not None:
                _get_validation(ctx, source, wanted)
        ctx.context.build_data_docs(site_names=[SITE_NAME])
    return ctx.root / "index.html"


def reset_contexts() -> None:
    """Forget the cached contexts (tests, or a process that changes Data Docs folders)."""
    with _LOCK:
        _CONTEXTS.clear()
