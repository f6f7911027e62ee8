"""Generate one Great Expectations suite per source from `connectors.sources`.

The suites are kept as reviewable JSON in `expectations/suites/<source>.json`; they are never
edited by hand. `python -m expectations.build` rewrites them, and a test checks that the committed
files equal what `build_suite` produces, so the declarations and the suites cannot drift apart.

The suite is the *audit* of write-audit-publish: the connectors already reject bad rows one by
one, so these expectations check the accepted frame as a whole (row count, natural key, period
coverage, value sets) and act as a safety net for the row rules.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.sources import SOURCES, Column, Source

# The committed suites are built with the default reject threshold (BUREAU_STATS_REJECT_THRESHOLD);
# the audit re-applies the configured value (see `apply_threshold`).
from connectors.verdict import DEFAULT_REJECT_THRESHOLD

SUITES_DIR = Path(__file__).resolve().parent / "suites"

# Suite parameters filled in by the audit for each batch (GX `{"$PARAMETER": name}`).
PERIOD_START = "period_start"
PERIOD_END = "period_end"
TODAY = "today"

# Columns every accepted frame carries besides the declared fields (connectors/batch.py).
PARTITION_COLUMN = "partition_date"
LINE_COLUMN = "line"

DATE_TYPES = ("date", "epoch_ms_date", "month")
# GX 1.24 compares the pandas dtype's scalar type: `str` matches pandas 3's text dtype,
# `int64` matches both int64 and the nullable Int64, `bool` the nullable boolean dtype.
# Decimals live in object columns, so GX checks each value's class name.
GX_TYPES = {"text": "str", "enum": "str", "int": "int64", "bool": "bool", "decimal": "Decimal"}

# Characters of a unified social credit code (GB 32100-2015): digits and capitals except I O S V Z.
USCC_REGEX = r"^[0-9A-HJ-NP-RTUW-Y]{18}$"

# `meta.tolerance` of expectations whose `mostly` follows the reject threshold.
TOLERANCE_KEY = "tolerance"
TOLERANCE_THRESHOLD = "reject_threshold"
# `severity` of an expectation whose failure is a warning (GX's FailureSeverity values).
WARNING = "warning"


def mostly_for(threshold: Decimal) -> float:
    """Share of values that must pass: `1 - threshold` (threshold 0.05 -> 0.95)."""
    if not Decimal(0) <= threshold <= Decimal(1):
        raise ValueError(f"reject threshold must be between 0 and 1, got {threshold}")
    return float(Decimal(1) - threshold)


def _expectation(kind: str, rule: str, /, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"rule": rule}}


def _tolerant(expectation: dict[str, Any], threshold: Decimal) -> dict[str, Any]:
    expectation["kwargs"]["mostly"] = mostly_for(threshold)
    expectation["meta"][TOLERANCE_KEY] = TOLERANCE_THRESHOLD
    return expectation


def _warning(expectation: dict[str, Any]) -> dict[str, Any]:
    """GX's own severity: a failure is reported and logged but does not quarantine the file."""
    expectation["severity"] = WARNING
    return expectation


def _column_expectations(column: Column, threshold: Decimal) -> list[dict[str, Any]]:
    """Expectations on one declared column, in a fixed order."""
    name = column.field
    out: list[dict[str, Any]] = []
    if column.is_required:
        out.append(
            _expectation(
                "expect_column_values_to_not_be_null", "required (K, P, R, enum, bool)", column=name
            )
        )
    gx_type = GX_TYPES.get(column.type)
    if gx_type is not None:
        out.append(
            _expectation(
                "expect_column_values_to_be_of_type",
                f"{column.type} column",
                column=name,
                type_=gx_type,
            )
        )
    if column.type == "enum":
        out.append(
            _tolerant(
                _expectation(
                    "expect_column_values_to_be_in_set",
                    "closed value set; share outside it at most the reject threshold",
                    column=name,
                    value_set=list(column.values),
                ),
                threshold,
            )
        )
    if column.type in ("int", "decimal") and (
        column.minimum is not None or column.maximum is not None
    ):
        bounds: dict[str, Any] = {"min_value": column.minimum, "max_value": column.maximum}
        if column.exclusive_minimum:
            bounds["strict_min"] = True
        out.append(
            _expectation(
                "expect_column_values_to_be_between",
                "declared range",
                column=name,
                **{k: v for k, v in bounds.items() if v is not None},
            )
        )
    if column.maximum_when is not None:
        when, cap = column.maximum_when
        out.append(
            _expectation(
                "expect_column_values_to_be_between",
                f"at most {cap} where {when.field} is one of its declared values",
                column=name,
                max_value=cap,
                row_condition=f"{when.field}.isin({sorted(when.values)!r})",
                condition_parser="pandas",
            )
        )
    if column.pattern is not None:
        out.append(
            _expectation(
                "expect_column_values_to_match_regex",
                "declared pattern",
                column=name,
                regex=f"^(?:{column.pattern})$",
            )
        )
    if column.check in ("uscc", "uscc_alphabet"):
        out.append(
            _expectation(
                "expect_column_values_to_match_regex",
                "18 characters of the USCC alphabet",
                column=name,
                regex=USCC_REGEX,
            )
        )
    if column.type in DATE_TYPES:
        # A warning, not a verdict: the contract quarantines for no such reason (rule 6).
        out.append(
            _warning(
                _tolerant(
                    _expectation(
                        "expect_column_values_to_be_between",
                        "not after today (many future dates suggest a misread date format)",
                        column=name,
                        max_value={"$PARAMETER": TODAY},
                    ),
                    threshold,
                )
            )
        )
    if column.not_before is not None:
        out.append(
            _expectation(
                "expect_column_pair_values_a_to_be_greater_than_b",
                f"{name} not before {column.not_before}",
                column_A=name,
                column_B=column.not_before,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )
    if column.not_above is not None:
        out.append(
            _expectation(
                "expect_column_pair_values_a_to_be_greater_than_b",
                f"{name} not above {column.not_above}",
                column_A=column.not_above,
                column_B=name,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )
    return out


def build_suite(source: Source, threshold: Decimal = DEFAULT_REJECT_THRESHOLD) -> dict[str, Any]:
    """The suite of one source as a plain, JSON-ready dict (no ids, no timestamps)."""
    fields = [c.field for c in source.columns]
    expectations: list[dict[str, Any]] = [
        _expectation("expect_table_row_count_to_be_between", "a file has data rows", min_value=1),
        _expectation(
            "expect_table_columns_to_match_set",
            "every declared field is present",
            column_set=[*fields, PARTITION_COLUMN, LINE_COLUMN],
            exact_match=False,
        ),
    ]
    keys = list(source.key_fields)
    if len(keys) == 1:
        expectations.append(
            _expectation(
                "expect_column_values_to_be_unique", "natural key unique per file", column=keys[0]
            )
        )
    else:
        expectations.append(
            _expectation(
                "expect_compound_columns_to_be_unique",
                "natural key unique per file",
                column_list=keys,
            )
        )
    expectations += [
        _expectation(
            "expect_column_values_to_not_be_null",
            "every row has a partition date",
            column=PARTITION_COLUMN,
        ),
        _expectation(
            "expect_column_values_to_be_between",
            "partition date inside the declared period",
            column=PARTITION_COLUMN,
            min_value={"$PARAMETER": PERIOD_START},
            max_value={"$PARAMETER": PERIOD_END},
        ),
        _expectation(
            "expect_column_values_to_not_be_null",
            "line number of the row in the file",
            column=LINE_COLUMN,
        ),
        _expectation(
            "expect_column_values_to_be_of_type", "line number", column=LINE_COLUMN, type_="int64"
        ),
    ]
    for column in source.columns:
        expectations += _column_expectations(column, threshold)
    meta: dict[str, Any] = {}
    if source.consistency:
        # Rules between rows, checked per file by connectors.consistency (GX has no
        # expectation relating rows of one column): a file breaking one is quarantined.
        meta["consistency"] = [
            {"rule": r.name, "total": r.total, "op": r.op, "parts": list(r.parts)}
            for r in source.consistency
        ]
    return {
        "name": source.code,
        "meta": {
            "source": source.code,
            "label": source.label,
            "generated_by": "python -m expectations.build (from connectors/sources.py; do not edit)",
            "reject_threshold": str(threshold),
            "suite_parameters": {
                PERIOD_START: "first day of the file's declared period",
                PERIOD_END: "last day of the file's declared period",
                TODAY: "the audit date (Asia/Shanghai)",
            },
            **meta,
        },
        "expectations": expectations,
    }


def apply_threshold(suite: dict[str, Any], threshold: Decimal) -> dict[str, Any]:
    """A copy of a suite whose tolerant expectations use `threshold` instead of the built one."""
    out = json.loads(json.dumps(suite))
    out["meta"]["reject_threshold"] = str(threshold)
    for expectation in out["expectations"]:
        if expectation["meta"].get(TOLERANCE_KEY) == TOLERANCE_THRESHOLD:
            expectation["kwargs"]["mostly"] = mostly_for(threshold)
    return out


def render(suite: dict[str, Any]) -> str:
    """The exact text of a suite file (stable key order, readable Chinese)."""
    return json.dumps(suite, ensure_ascii=False, indent=2) + "\n"


def suite_path(code: str, directory: Path = SUITES_DIR) -> Path:
    return directory / f"{code}.json"


def load_suite(code: str, directory: Path = SUITES_DIR) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(suite_path(code, directory).read_text(encoding="utf-8"))
    return result


def write_suites(
    directory: Path = SUITES_DIR, threshold: Decimal = DEFAULT_REJECT_THRESHOLD
) -> list[Path]:
    """Write every source's suite; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for source in SOURCES.values():
        path = suite_path(source.code, directory)
        path.write_text(render(build_suite(source, threshold)), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, default=SUITES_DIR, help="output folder")
    args = parser.parse_args(argv)
    for path in write_suites(args.dir):
        print(path)


if __name__ == "__main__":
    main()
