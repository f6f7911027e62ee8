"""The audit of write-audit-publish: validate one extracted batch with its Great Expectations suite.

One GX context per process and Data Docs folder (built on first use, then cached): suites and
validation definitions are created once, each batch only runs its validation. The context is
ephemeral (nothing but results and Data Docs touches the disk), analytics are off and nothing
uses the network.

A large file (more than `AUDIT_CHUNK_ROWS` accepted rows, possibly spooled to disk) is
validated chunk by chunk, so that only one chunk is ever a pandas frame; the chunk results are
merged into the one result a single run would have given (`merge_results`), with uniqueness
recomputed over the whole key column(s). That, and every other use of GX internals, is in
`expectations.gx_compat`, active only on the tested GX versions (else the public API).

Personal data never reaches a result: GX runs with a result format that keeps counts but no
unexpected values, and every stored result is scrubbed of exception messages (a message can quote
a cell) before it is written under `<data_docs_dir>/results/`. Data Docs are rendered from those
scrubbed results only, and open with no network (`expectations.offline_docs`).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from connectors.batch import ExtractedBatch
from connectors.bureau_time import BUREAU_TZ
from connectors.canonical import to_frame
from connectors.sources import SOURCES, Source, get_source
from connectors.spool import SpooledRows, chunks, in_memory
from connectors.verdict import DEFAULT_REJECT_THRESHOLD
from expectations import gx_compat
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
from expectations.gx_compat.chunks import file_wide_counts, merge_results, raised_infos
from expectations.offline_docs import localize_site

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


def scrub_result(result: ExpectationSuiteValidationResult) -> None:
    """Keep counts, drop anything that could hold a cell value (in place)."""
    for item in result.results:
        kind = item.expectation_config.type if item.expectation_config else ""
        raised = raised_infos(item.exception_info)
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
        raised = raised_infos(item.exception_info)
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


# --- the audit --------------------------------------------------------------------------------


def _run_name(batch: ExtractedBatch) -> str:
    f = batch.file
    return f"{f.period_start:%Y%m%d}-{f.period_end:%Y%m%d}_v{f.version}"


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
    chunk's frame, not the file's; only where `gx_compat` is active (a tested GX version),
    elsewhere the whole file is one frame.
    """

    def frame_of(keys: pd.DataFrame | pa.Table) -> pd.DataFrame:
        return validation_frame(source, keys)

    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    source = get_source(batch.source)
    rows: pa.Table | pd.DataFrame | SpooledRows = batch.accepted
    chunk = gx_compat.chunk_rows(chunk_rows)
    whole = chunk is None or len(rows) <= chunk
    frame = validation_frame(source, in_memory(rows)) if whole else None
    params = suite_parameters(
        batch.file.period_start, batch.file.period_end, today or datetime.now(BUREAU_TZ).date()
    )
    run_id = RunIdentifier(run_name=_run_name(batch), run_time=datetime.now(UTC))
    with _LOCK:
        ctx = _get_context(data_docs_dir)
        definition = _get_validation(ctx, source, Decimal(threshold))

        def validate(view: pd.DataFrame) -> ExpectationSuiteValidationResult:
            return gx_compat.validate(
                ctx.context, ctx.datasource, definition, view, params, RESULT_FORMAT, run_id
            )

        if frame is not None:
            result = validate(frame)
            del frame
        else:
            # One chunk at a time: converted, validated and dropped before the next is read.
            parts = []
            for part in chunks(rows, chunk or chunk_rows):
                view = validation_frame(source, part)
                del part
                parts.append(validate(view))
                del view
            result = merge_results(parts, file_wide_counts(rows, frame_of))
        scrub_result(result)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=source.code),
            run_id=run_id,
            batch_identifier=batch.sha256[:16] or "unknown",
        )
        gx_compat.store_result(ctx.context.stores[RESULTS_STORE], key, result)
        result_path = ctx.root / RESULTS_SUBDIR / Path(*key.to_tuple()).with_suffix(".json")
        if build_docs:
            ctx.context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[key])
            localize_site(ctx.root)
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
        localize_site(ctx.root)  # the pages load their styles and scripts from the site
    return ctx.root / "index.html"


def reset_contexts() -> None:
    """Forget the cached contexts (tests, or a process that changes Data Docs folders)."""
    with _LOCK:
        _CONTEXTS.clear()
