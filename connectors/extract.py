"""The generic connector: one delivered file -> an ExtractedBatch.

Order of the contract: value rules and synonyms -> exact duplicates (on parsed values) ->
conflicting keys -> per-column rules -> period. Every step is a vectorized mask; a row's
reject reason is the first rule it breaks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa

from connectors import identifiers, personal_data, values
from connectors.batch import REJECT_COLUMNS, ExtractedBatch, LandingFile
from connectors.canonical import canonical_table, empty_table
from connectors.landing import open_file
from connectors.readers import FileRejected, RawTable, read_export
from connectors.sources import BOOL_VALUES, SOURCES, Column, Source

DEFAULT_THRESHOLD = Decimal("0.05")
BLOCK_ROWS = 131_072  # rows parsed and checked at once: bounds the connector's working memory


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
            t = t.replace(col.synonyms)
        if col.type == "decimal" and col.minimum == 0 and not col.is_required:
            t = t.fillna("0")  # a blank amount is 0 (罚没金额)
        if col.check == "resident_id" or col.check_by:
            t = t.where(~t.str.fullmatch(r"\d{17}x", na=False), t.str.upper())
        text[col.field] = t
        parsed[col.field], ok[col.field], reason[col.field] = _parse_column(col, t)
    return Parsed(text=text, value=parsed, ok=ok, reason=reason)


def _comparison_frame(source: Source, p: Parsed) -> pd.DataFrame:
    """Rows are compared on parsed values; a cell that failed to parse on its text.

    One 64-bit hash per cell (no string copies of a million dates): equal parsed values
    hash equal, a cell that failed to parse hashes its normalized text, marked apart.
    """
    cols = {}
    for col in source.columns:
        v = p.value[col.field]
        if col.type == "decimal":
            v = v.map(_decimal_key, na_action="ignore").astype("str")
        parsed_hash = pd.util.hash_pandas_object(v, index=False).to_numpy()
        ok = p.ok[col.field].to_numpy(dtype=bool)
        if ok.all():
            cols[col.field] = parsed_hash
            continue
        text = "\x00" + p.text[col.field].fillna("")
        text_hash = pd.util.hash_pandas_object(text, index=False).to_numpy()
        cols[col.field] = np.where(ok, parsed_hash, text_hash)
    return pd.DataFrame(cols, index=p.text.index)


def _row_keys(cells: pd.DataFrame) -> np.ndarray:
    """128 bits per row from its cell hashes: two different combinations (column order
    matters to pandas' combiner), so two rows collide only if their cells do."""
    forward = pd.util.hash_pandas_object(cells, index=False).to_numpy()
    backward = pd.util.hash_pandas_object(cells.iloc[:, ::-1], index=False).to_numpy()
    return np.stack([forward, backward], axis=1)


def _decimal_key(d: Decimal | None) -> str:
    return "" if d is None else str(d.normalize())


def _condition(p: Parsed, when_field: str, allowed: frozenset[str]) -> pd.Series:
    return values.contains_any(p.text[when_field].where(p.ok[when_field]), allowed)


class _Rejections:
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


def _validate(source: Source, p: Parsed, rej: _Rejections, file: LandingFile) -> pd.Series:
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
            rej.add(low | high, "rule_violation", col.header)
        if col.not_before:
            other = p.value[col.not_before]
            rej.add((v < other).fillna(False).astype(bool), "rule_violation", col.header)
        if col.not_above:
            other = p.value[col.not_above]
            rej.add((v > other).fillna(False).astype(bool), "rule_violation", col.header)
    partition = p.value[source.partition_field]
    if source.partition_fallback:
        partition = partition.fillna(p.value[source.partition_fallback])
    start = pd.Timestamp(file.period_start)
    end = pd.Timestamp(file.period_end)
    outside = partition.notna() & ((partition < start) | (partition > end))
    rej.add(outside, "out_of_period", source.column(source.partition_field).header)
    return partition


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


def _protect(
    source: Source, p: Parsed, frame: pd.DataFrame, key: bytes, strict: bool
) -> pd.DataFrame:
    """Hash identifiers and mask names of natural persons (rule 7).

    `strict` (rejected rows): protect unless the row is clearly not a natural person, i.e.
    the condition field holds a valid value outside the condition.
    """
    out = frame.copy()
    text_fields = [c.field for c in source.columns if c.type == "text"]
    for col in source.columns:
        when = col.mask_when or col.hash_when
        if when is None:
            continue
        cond_text = p.text[when.field].reindex(frame.index)
        cond_ok = p.ok[when.field].reindex(frame.index)
        applies = values.contains_any(cond_text, when.values)
        if strict:
            applies = applies | ~cond_ok | cond_text.isna()
        rows = applies & out[col.field].notna()
        if not rows.any():
            continue
        if col.mask_when is not None:
            names = out.loc[rows, col.field].astype(str)
            for other in text_fields:
                if other != col.field:
                    out.loc[rows, other] = personal_data.mask_within(out.loc[rows, other], names)
            out.loc[rows, col.field] = personal_data.mask_names(names)
        if col.hash_when is not None:
            out.loc[rows, col.field] = personal_data.hash_identifiers(
                out.loc[rows, col.field].astype(str), key
            )
    return out


def _canonical(source: Source, p: Parsed, keep: np.ndarray, partition: pd.Series) -> pd.DataFrame:
    """Accepted rows, typed, re-indexed 0..k-1 (dates stay datetime64 until Arrow)."""
    data: dict[str, pd.Series] = {}
    for col in source.columns:
        v = p.text[col.field] if col.type in ("text", "enum") else p.value[col.field]
        data[col.field] = v[keep].reset_index(drop=True)
    data["partition_date"] = partition[keep].reset_index(drop=True)
    return pd.DataFrame(data)


def _raw_json(raw: pd.DataFrame, source: Source, key: bytes) -> list[str]:
    headers = {c.field: c.header for c in source.columns}
    out = []
    for record in raw.to_dict("records"):
        cells = {headers[f]: ("" if v is None or v != v else str(v)) for f, v in record.items()}
        text = json.dumps(cells, ensure_ascii=False)
        out.append(personal_data.scrub_resident_ids(text, key))
    return out


@dataclass
class _Block:
    """What one block of rows leaves for the file-wide steps (duplicates, conflicts)."""

    rows: np.ndarray  # (n, 2) uint64: the row's parsed values
    keys: np.ndarray  # (n, 2) uint64: its key fields
    key_present: np.ndarray
    reason: np.ndarray  # first broken column rule, None if none
    column: np.ndarray
    accepted: pa.Table  # rows breaking no column rule, canonical and protected
    accepted_at: np.ndarray  # their positions in the file


def _extract_block(
    source: Source, file: LandingFile, table: RawTable, start: int, stop: int, pii_key: bytes
) -> _Block:
    normalized = table.normalized.iloc[start:stop].reset_index(drop=True)
    p = parse_table(source, normalized)
    comparison = _comparison_frame(source, p)
    keys = list(source.key_fields)
    rej = _Rejections(len(normalized))
    partition = _validate(source, p, rej, file)
    passing = ~rej.rejected
    frame = _canonical(source, p, passing, partition)
    frame = _protect(source, _reindexed(p, passing), frame, pii_key, strict=False)
    frame["line"] = table.lines[start:stop][passing]
    return _Block(
        rows=_row_keys(comparison),
        keys=_row_keys(comparison[keys]),
        key_present=p.text[keys].notna().all(axis=1).to_numpy(),
        reason=rej.reason,
        column=rej.column,
        accepted=canonical_table(source, frame),
        accepted_at=np.flatnonzero(passing) + start,
    )


def _rejects(
    source: Source,
    table: RawTable,
    positions: np.ndarray,
    reason: np.ndarray,
    column: np.ndarray,
    pii_key: bytes,
) -> pd.DataFrame:
    """Rejected rows with their raw cells, personal data protected (strictly), block by block."""
    parts = [pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})]
    for start in range(0, len(positions), BLOCK_ROWS):
        at = positions[start : start + BLOCK_ROWS]
        p = parse_table(source, table.normalized.iloc[at].reset_index(drop=True))
        raw = table.raw.iloc[at].reset_index(drop=True)
        raw = _protect(source, p, raw, pii_key, strict=True)
        parts.append(
            pd.DataFrame(
                {
                    "line": pd.Series(table.lines[at], dtype="int64"),
                    "reason": pd.Series(reason[start : start + BLOCK_ROWS], dtype=object),
                    "column": pd.Series(column[start : start + BLOCK_ROWS], dtype=object),
                    "raw": pd.Series(_raw_json(raw, source, pii_key), dtype=object),
                },
                columns=list(REJECT_COLUMNS),
            )
        )
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _duplicated(keys: np.ndarray, keep: str | bool) -> np.ndarray:
    frame = pd.DataFrame({"a": keys[:, 0], "b": keys[:, 1]})
    return frame.duplicated(keep=keep).to_numpy()  # type: ignore[arg-type]


def extract_table(
    source: Source,
    file: LandingFile,
    table: RawTable,
    *,
    pii_key: bytes,
    threshold: Decimal = DEFAULT_THRESHOLD,
) -> tuple[pa.Table, pd.DataFrame, int, list[str]]:
    """Pure core: a read table -> (accepted, rejects, duplicates, warnings).

    Rows are parsed and checked in blocks of BLOCK_ROWS, so the working memory does not grow
    with the file; each block leaves only two 128-bit hashes per row, its reject reasons and
    its accepted rows in compact Arrow form. Duplicates and conflicting keys, which span the
    whole file, are then decided on the hashes.
    """
    n = table.rows
    if n == 0:
        no_rows = np.zeros(0, dtype=np.int64)
        rejects = _rejects(source, table, no_rows, no_rows, no_rows, pii_key)
        return empty_table(source), rejects, 0, list(table.warnings)
    blocks = [
        _extract_block(source, file, table, start, min(start + BLOCK_ROWS, n), pii_key)
        for start in range(0, n, BLOCK_ROWS)
    ]
    rows = np.concatenate([b.rows for b in blocks])
    keys = np.concatenate([b.keys for b in blocks])
    reason = np.concatenate([b.reason for b in blocks])
    column = np.concatenate([b.column for b in blocks])
    key_present = np.concatenate([b.key_present for b in blocks])

    duplicate = _duplicated(rows, "first")
    candidates = np.flatnonzero(~duplicate & key_present)
    conflicting = np.zeros(n, dtype=bool)
    if len(candidates):
        conflicting[candidates[_duplicated(keys[candidates], False)]] = True
    key_header = "+".join(source.column(k).header for k in source.key_fields)
    reason = np.where(conflicting, "conflicting_key", reason)
    column = np.where(conflicting, key_header, column)
    rejected = (reason != None) & ~duplicate  # noqa: E711
    keep = ~rejected & ~duplicate

    accepted = pa.concat_tables(
        [b.accepted.filter(pa.array(keep[b.accepted_at])) for b in blocks] or [empty_table(source)]
    )
    at = np.flatnonzero(rejected)
    rejects = _rejects(source, table, at, reason[at], column[at], pii_key)
    return accepted, rejects, int(duplicate.sum()), list(table.warnings)


def _reindexed(p: Parsed, keep: np.ndarray) -> Parsed:
    """The parsed view restricted to `keep`, re-indexed 0..k-1 like the canonical frame."""

    def sub(s: pd.Series) -> pd.Series:
        return s[keep].reset_index(drop=True)

    return Parsed(
        text=p.text[keep].reset_index(drop=True),
        value={k: sub(v) for k, v in p.value.items()},
        ok={k: sub(v) for k, v in p.ok.items()},
        reason=p.reason,
    )


def extract_bytes(
    file: LandingFile,
    fp: IO[bytes],
    *,
    pii_key: bytes,
    threshold: Decimal = DEFAULT_THRESHOLD,
) -> ExtractedBatch:
    """Read one delivery from a file object; never raises for bad content."""
    source = SOURCES[file.source]
    data = fp.read()
    sha256 = hashlib.sha256(data).hexdigest()
    empty_rejects = pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})

    def quarantined(reason: str, detail: str) -> ExtractedBatch:
        return ExtractedBatch(
            file=file,
            sha256=sha256,
            accepted=empty_table(source),
            rejects=empty_rejects,
            rows_read=0,
            rows_duplicate=0,
            verdict="quarantine",
            reason=reason,
            detail=detail,
        )

    import io

    try:
        table = read_export(io.BytesIO(data), source, file.extension)
        accepted, rejects, duplicates, warnings = extract_table(
            source, file, table, pii_key=pii_key, threshold=threshold
        )
    except FileRejected as exc:
        return quarantined(exc.reason, exc.detail)
    except (MemoryError, RecursionError) as exc:
        return quarantined("unreadable", f"cannot be processed ({type(exc).__name__})")
    batch = ExtractedBatch(
        file=file,
        sha256=sha256,
        accepted=accepted,
        rejects=rejects,
        rows_read=table.rows,
        rows_duplicate=duplicates,
        warnings=warnings,
    )
    if table.declared_total is not None and table.declared_total != table.rows:
        batch.verdict, batch.reason = "quarantine", "truncated"
        batch.detail = f"'total' says {table.declared_total} records, the file holds {table.rows}"
    elif batch.rows_read and Decimal(batch.rows_rejected) / Decimal(batch.rows_read) > threshold:
        batch.verdict, batch.reason = "quarantine", "reject_share"
        batch.detail = (
            f"{batch.rows_rejected} of {batch.rows_read} rows rejected, above the "
            f"{threshold * 100:g} % threshold"
        )
    return batch


def extract_file(
    file: LandingFile, *, pii_key: bytes, threshold: Decimal = DEFAULT_THRESHOLD
) -> ExtractedBatch:
    """Read one delivery from the landing area. IO errors propagate: callers retry them."""
    with open_file(file) as fp:
        return extract_bytes(file, fp, pii_key=pii_key, threshold=threshold)
