"""The contract's rules that one block of rows decides alone: parse each column, then reject.

Value rules and synonyms, per-column rules, period; each a vectorized mask, a row's reason
the first rule it breaks (rows the reader could not read for certain are rejected before any
of them). The rules spanning the file (exact duplicates, conflicting keys) are
`connectors.extract`'s, which puts them ahead of the per-column ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from connectors import identifiers, values
from connectors.batch import LandingFile
from connectors.raw_table import RawTable
from connectors.sources import BOOL_VALUES, Column, Source


@dataclass
class Parsed:
    """Each column parsed, with the mask of cells that failed to parse."""

    text: pd.DataFrame  # normalized text after synonym mapping
    value: dict[str, pd.Series]
    ok: dict[str, pd.Series]
    reason: dict[str, str]


def _parse_column(col: Column, text: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    if col.type in ("date",):
        v, ok = values.parse_dates(text)
        return v, ok, "bad_date"
    if col.type == "epoch_ms_date":
        v, ok = values.parse_epoch_ms_dates(text)
        return v, ok, "bad_date"
    if col.type == "month":
        v, ok = values.parse_months(text)
        return v, ok, "bad_date"
    if col.type == "int":
        v, ok = values.parse_ints(text)
        return v, ok, "bad_number"
    if col.type == "decimal":
        v, ok = values.parse_decimals(text)
        return v, ok, "bad_number"
    if col.type == "bool":
        mapped = text.map(BOOL_VALUES, na_action="ignore")
        ok = text.isna() | mapped.notna()
        return mapped.astype("boolean"), ok, "bad_enum"
    if col.type == "enum":
        ok = text.isna() | values.contains_any(text, set(col.values))
        return text.where(ok), ok, "bad_enum"
    return text, pd.Series(True, index=text.index), "rule_violation"


def parse_table(source: Source, normalized: pd.DataFrame) -> Parsed:
    text = normalized.copy()
    parsed: dict[str, pd.Series] = {}
    ok: dict[str, pd.Series] = {}
    reason: dict[str, str] = {}
    for col in source.columns:
        t = text[col.field]
        if col.synonyms:
            t = values.replace_synonyms(t, col.synonyms)
        if col.type == "decimal" and col.minimum == 0 and not col.is_required:
            t = t.fillna("0")  # a blank amount is 0 (罚没金额)
        if col.check == "resident_id" or col.check_by:
            # A final `x` reads as `X` in a resident ID only (a USCC has no lower case).
            lower_x = t.str.fullmatch(r"\d{17}x", na=False)
            if col.check_by and col.check != "resident_id":
                by, checks = col.check_by
                persons = {value for value, check in checks.items() if check == "resident_id"}
                lower_x &= values.contains_any(text[by], persons)
            t = t.where(~lower_x, t.str.upper())
        text[col.field] = t
        parsed[col.field], ok[col.field], reason[col.field] = _parse_column(col, t)
    return Parsed(text=text, value=parsed, ok=ok, reason=reason)


def _condition(p: Parsed, when_field: str, allowed: frozenset[str]) -> pd.Series:
    return values.contains_any(p.text[when_field].where(p.ok[when_field]), allowed)


class Rejections:
    """First failing rule per row, in the order rules are applied."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)
        self.column = np.full(n, None, dtype=object)

    def add(self, mask: pd.Series | np.ndarray, reason: str, column: str | None) -> None:
        m = np.asarray(mask, dtype=bool) & (self.reason == None)  # noqa: E711
        self.reason[m] = reason
        self.column[m] = column

    @property
    def rejected(self) -> np.ndarray:
        return self.reason != None  # noqa: E711


def validate(source: Source, p: Parsed, rej: Rejections, file: LandingFile) -> pd.Series:
    """Apply every declared rule; returns the partition date per row."""
    present = {c.field: p.text[c.field].notna() for c in source.columns}
    for col in source.columns:
        f = col.field
        blank = ~present[f]
        if col.is_required:
            rej.add(blank, "missing_required", col.header)
        if col.required_when is not None:
            cond = _condition(p, col.required_when.field, col.required_when.values)
            rej.add(blank & cond, "missing_required", col.header)
            if col.blank_otherwise:
                rej.add(~blank & ~cond, "rule_violation", col.header)
        rej.add(~p.ok[f], p.reason[f], col.header)
        t = p.text[f]
        if col.check == "uscc":
            rej.add(present[f] & ~identifiers.valid_uscc(t), "bad_check_digit", col.header)
        elif col.check == "uscc_alphabet":
            rej.add(present[f] & ~identifiers.valid_uscc_alphabet(t), "bad_check_digit", col.header)
        if col.check_by is not None:
            by, checks = col.check_by
            for by_value, check in checks.items():
                cond = _condition(p, by, frozenset({by_value}))
                valid = (
                    identifiers.valid_uscc(t)
                    if check == "uscc"
                    else identifiers.valid_resident_id(t)
                )
                rej.add(cond & present[f] & ~valid, "bad_check_digit", col.header)
        if col.pattern:
            rej.add(
                present[f] & ~t.str.fullmatch(col.pattern).fillna(False).astype(bool),
                "rule_violation",
                col.header,
            )
        v = p.value[f]
        if col.minimum is not None or col.maximum is not None:
            numeric = v.where(p.ok[f])
            if col.type == "decimal":
                numeric = pd.Series(
                    [float("nan") if x is None else x for x in numeric.tolist()],
                    index=v.index,
                    dtype=object,
                )
            low = _compare(numeric, col.minimum, "le" if col.exclusive_minimum else "lt")
            high = _compare(numeric, col.maximum, "gt")
            if col.maximum_when is not None:
                when, cap = col.maximum_when
                high |= _condition(p, when.field, when.values).to_numpy(dtype=bool) & _compare(
                    numeric, cap, "gt"
                )
            rej.add(low | high, "rule_violation", col.header)
        if col.not_before:
            other = p.value[col.not_before]
            rej.add((v < other).fillna(False).astype(bool), "rule_violation", col.header)
        if col.not_above:
            other = p.value[col.not_above]
            rej.add((v > other).fillna(False).astype(bool), "rule_violation", col.header)
    own = p.value[source.partition_field]
    partition = own
    if source.partition_fallback:
        partition = own.fillna(p.value[source.partition_fallback])
    start = pd.Timestamp(file.period_start)
    end = pd.Timestamp(file.period_end)
    outside = partition.notna() & ((partition < start) | (partition > end))
    header = source.column(source.partition_field).header
    if source.partition_fallback:  # name the column whose date was out of the period
        by_fallback = outside & own.isna()
        rej.add(by_fallback, "out_of_period", source.column(source.partition_fallback).header)
    rej.add(outside, "out_of_period", header)
    return partition


def doubted(table: RawTable, rej: Rejections) -> None:
    """Rows the reader could not read for certain are rejected first, with its reason."""
    if table.doubts is None or table.doubt_columns is None:
        return
    marked = table.doubts != None  # noqa: E711
    for reason, column in set(zip(table.doubts[marked], table.doubt_columns[marked], strict=True)):
        rej.add((table.doubts == reason) & (table.doubt_columns == column), reason, column)


def _compare(numeric: pd.Series, bound: int | None, op: str) -> np.ndarray:
    if bound is None:
        return np.zeros(len(numeric), dtype=bool)
    if numeric.dtype == object:
        b = Decimal(bound)
        cmp = {"lt": lambda x: x < b, "le": lambda x: x <= b, "gt": lambda x: x > b}[op]
        return np.array(
            [x == x and x is not None and bool(cmp(x)) for x in numeric.tolist()], dtype=bool
        )
    result = {"lt": numeric < bound, "le": numeric <= bound, "gt": numeric > bound}[op]
    return result.fillna(False).to_numpy(dtype=bool)


def reindexed(p: Parsed, keep: np.ndarray, fields: Sequence[str]) -> Parsed:
    """The parsed view of `fields` restricted to `keep`, re-indexed 0..k-1 like the
    canonical frame (only the fields a rule reads: the others would be copied for nothing)."""

    def sub(s: pd.Series) -> pd.Series:
        return s[keep].reset_index(drop=True)

    return Parsed(
        text=p.text[list(fields)][keep].reset_index(drop=True),
        value={k: sub(p.value[k]) for k in fields},
        ok={k: sub(p.ok[k]) for k in fields},
        reason={k: p.reason[k] for k in fields},
    )
