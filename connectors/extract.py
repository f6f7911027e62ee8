"""The generic connector: one delivered file -> an ExtractedBatch.

Order of the contract: value rules and synonyms -> exact duplicates (on parsed values) ->
conflicting keys -> per-column rules -> period. Every step is a vectorized mask; a row's
reject reason is the first rule it breaks.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from connectors import identifiers, personal_data, row_hash, values
from connectors.batch import REJECT_COLUMNS, ExtractedBatch, LandingFile, no_rejects
from connectors.canonical import canonical_schema, canonical_table, empty_table
from connectors.landing import open_file
from connectors.readers import Export, FileRejected, RawTable, StreamFailed, read_export
from connectors.sources import BOOL_VALUES, SOURCES, Column, Source
from connectors.spool import SpooledRows, SpoolWriter
from connectors.verdict import DEFAULT_REJECT_THRESHOLD, reject_share_detail


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


def _doubted(table: RawTable, rej: _Rejections) -> None:
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


def _protect(
    source: Source, p: Parsed | None, frame: pd.DataFrame, key: bytes, strict: bool
) -> pd.DataFrame:
    """Hash identifiers and mask names of natural persons (rule 7), then hash anything shaped
    like a resident ID in every text cell left (`_scan_ids`).

    `strict` (rejected rows): protect unless the row is clearly not a natural person, i.e.
    the condition field holds a valid value outside the condition. A valid resident ID in a
    party's identity column makes the row a natural person whatever its declared type.
    """
    out = frame.copy()
    hashed: dict[str, pd.Series] = {}
    text_fields = [c.field for c in source.columns if c.type == "text"]
    person = _natural_person(source, p, frame.index) if p is not None else None
    for col in source.columns:
        when = col.mask_when or col.hash_when
        if when is None or p is None:
            continue
        cond_text = p.text[when.field].reindex(frame.index)
        cond_ok = p.ok[when.field].reindex(frame.index)
        applies = values.contains_any(cond_text, when.values)
        if strict:
            applies = applies | ~cond_ok | cond_text.isna()
        if person is not None:
            applies = applies | person
        rows = applies & out[col.field].notna()
        if not rows.any():
            continue
        if col.mask_when is not None:
            names = out.loc[rows, col.field].astype(str)
            # Raw cells (rejected rows) may pad the name (` 许昶`, `许昶\u3000`) or write it
            # full-width: look for it as typed, stripped, and as the value rules read it.
            spellings = [names]
            if strict:
                clean = values.normalize_text(names).fillna("").astype(object)
                spellings += [names.str.strip(values.STRIP_CHARS), clean]
                names = clean.where(clean != "", names)
            for other in text_fields:
                if other == col.field:
                    continue
                for spelling in spellings:
                    out.loc[rows, other] = personal_data.mask_within(out.loc[rows, other], spelling)
                if strict:  # the name typed another way in the other cell (`赵Ａ华` for `赵A华`)
                    out.loc[rows, other] = _mask_in_normalized(out.loc[rows, other], names)
            out.loc[rows, col.field] = personal_data.mask_names(names)
        if col.hash_when is not None:
            out.loc[rows, col.field] = personal_data.hash_identifiers(
                out.loc[rows, col.field].astype(str), key
            )
            hashed[col.field] = rows
    return _scan_ids(source, out, key, strict, hashed)


def _natural_person(source: Source, p: Parsed, index: pd.Index) -> pd.Series | None:
    """Rows whose party identity column holds a valid resident ID (a person typed as 单位)."""
    fields = source.person_id_fields
    if not fields:
        return None
    found = pd.Series(False, index=index)
    for f in fields:
        found |= identifiers.valid_resident_id(p.text[f].reindex(index)).to_numpy(dtype=bool)
    return found


def _scan_ids(
    source: Source, out: pd.DataFrame, key: bytes, strict: bool, hashed: dict[str, pd.Series]
) -> pd.DataFrame:
    """Identity numbers wherever they are (rule 7): every text cell (every raw cell of a
    rejected row), except cells already hashed whole and values of a code the contract
    defines (a column checked as USCC or by pattern holds one once its row is accepted). A
    party's name cell that held one names a person: the name is masked, here and in the
    row's other text cells."""
    by_field = {c.field: c for c in source.columns}
    found_party: list[tuple[str, pd.Series]] = []
    for field in out.columns:
        col = by_field.get(field)
        if col is None:
            continue
        if not strict and (col.type != "text" or col.check is not None or col.pattern):
            continue
        cells = out[field]
        scrubbed, found = personal_data.scrub_resident_ids_in(cells, key, skip=hashed.get(field))
        if scrubbed is not cells:
            out[field] = scrubbed
        if col.party and found.any():
            found_party.append((field, found))
    for field, found in found_party:
        for at in found.index[found.to_numpy(dtype=bool)]:
            cell, names = personal_data.mask_party(str(out.at[at, field]))
            out.at[at, field] = cell
            for other in out.columns:
                text = out.at[at, other]
                if other == field or not isinstance(text, str):
                    continue
                for name in sorted(names, key=len, reverse=True):
                    text = text.replace(name, personal_data.mask_name(name))
                out.at[at, other] = text
    return out


def _mask_in_normalized(cells: pd.Series, names: pd.Series) -> pd.Series:
    """Cells whose normalized text holds the row's (clean) name: shown normalized, the name
    masked. Others unchanged (raw cells stay as typed wherever no name hides in them)."""
    out = cells.astype(object).copy()
    present = cells.notna() & names.notna()
    if not present.any():
        return out
    normal = values.normalize_text(cells[present].astype(str))
    for at, cell, name in zip(normal.index, normal.tolist(), names[present].tolist(), strict=True):
        if isinstance(cell, str) and name and name in cell:
            out[at] = cell.replace(name, personal_data.mask_name(name))
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
        out.append(json.dumps(cells, ensure_ascii=False))
    return out


_NO_HASHES = np.empty((0, 2), dtype=np.uint64)


@dataclass
class _Block:
    """What one block of rows leaves for the file-wide steps (duplicates, conflicts)."""

    start: int  # position of its first row in the file
    rows: np.ndarray  # (n, 2) uint64: the row's parsed values
    keys: np.ndarray  # (n, 2) uint64: its key fields
    key_present: np.ndarray
    passing: np.ndarray  # broke no column rule
    accepted: pa.Table | None  # rows breaking no column rule, canonical and protected
    accepted_at: np.ndarray  # their positions in the file
    rejects: pd.DataFrame  # rows breaking a column rule (REJECT_COLUMNS)
    rejects_at: np.ndarray  # their positions in the file


def _extract_block(
    source: Source, file: LandingFile, table: RawTable, start: int, pii_key: bytes
) -> _Block:
    p = parse_table(source, table.normalized)
    cells = row_hash.cell_hashes(source, p)
    keys = list(source.key_fields)
    rej = _Rejections(table.rows)
    _doubted(table, rej)
    partition = _validate(source, p, rej, file)
    passing = ~rej.rejected
    frame = _canonical(source, p, passing, partition)
    conditions = source.protection_conditions
    frame = _protect(
        source,
        _reindexed(p, passing, conditions) if conditions else None,
        frame,
        pii_key,
        strict=False,
    )
    frame["line"] = table.lines[passing]
    failing = np.flatnonzero(~passing)
    return _Block(
        start=start,
        rows=row_hash.row_keys(cells),
        keys=row_hash.row_keys(cells, [i for i, c in enumerate(source.columns) if c.key]),
        key_present=p.text[keys].notna().all(axis=1).to_numpy(),
        passing=passing,
        accepted=canonical_table(source, frame),
        accepted_at=np.flatnonzero(passing) + start,
        rejects=_rejects(
            source, table, failing, rej.reason[failing], rej.column[failing], pii_key, parsed=p
        ),
        rejects_at=failing + start,
    )


def _rejects(
    source: Source,
    table: RawTable,
    at: np.ndarray,
    reason: np.ndarray,
    column: np.ndarray,
    pii_key: bytes,
    *,
    parsed: Parsed | None = None,
) -> pd.DataFrame:
    """Rows `at` (ascending) of a block as rejects: raw cells, personal data protected
    (strictly). `parsed`: the block already parsed, else the rows are parsed here."""
    if len(at) == 0:
        return no_rejects()
    raw = table.raw.iloc[at].reset_index(drop=True)
    p: Parsed | None = None
    if conditions := source.protection_conditions:
        if parsed is None:
            p = parse_table(source, table.normalized.iloc[at].reset_index(drop=True))
        else:
            rows = np.zeros(table.rows, dtype=bool)
            rows[at] = True
            p = _reindexed(parsed, rows, conditions)
    raw = _protect(source, p, raw, pii_key, strict=True)
    return pd.DataFrame(
        {
            "line": pd.Series(table.lines[at], dtype="int64"),
            "reason": pd.Series(reason, dtype=object),
            "column": pd.Series(column, dtype=object),
            "raw": pd.Series(_raw_json(raw, source, pii_key), dtype=object),
        },
        columns=list(REJECT_COLUMNS),
    )


def _duplicated(keys: np.ndarray, keep: Literal["first", False]) -> np.ndarray:
    """`DataFrame.duplicated` over 128-bit keys, computed on the first 64 bits and confirmed
    on both only among the (few) rows whose first half repeats."""
    maybe = np.flatnonzero(pd.Series(keys[:, 0]).duplicated(keep=False).to_numpy())
    out = np.zeros(len(keys), dtype=bool)
    if len(maybe):
        both = pd.DataFrame({"a": keys[maybe, 0], "b": keys[maybe, 1]})
        out[maybe] = both.duplicated(keep=keep).to_numpy()
    return out


@dataclass
class Extraction:
    """A file's rows sorted out: accepted (canonical Arrow), rejects, duplicates."""

    accepted: pa.Table | SpooledRows
    rejects: pd.DataFrame
    rows_read: int
    rows_duplicate: int


def extract_table(
    source: Source,
    file: LandingFile,
    export: Export,
    *,
    pii_key: bytes,
    spool: SpoolWriter | None = None,
) -> Extraction:
    """Pure core: an export's rows -> accepted rows, rejects and duplicates.

    Rows are parsed and checked block by block as the reader hands them over, so the working
    memory does not grow with the file; each block leaves only two 128-bit hashes per row,
    its rejects and its accepted rows in compact Arrow form. Duplicates and conflicting keys,
    which span the whole file, are then decided on the hashes. Rows that passed every column
    rule but turn out to share a key with another row are read a second time for their raw
    cells (rare: the file is read again only then).

    With a `spool`, each block's accepted rows go to disk as soon as they are known, and the
    result's `accepted` is the spooled file: memory then holds one block, not the file.
    """
    blocks: list[_Block] = []
    n = 0
    for table in export.blocks():
        block = _extract_block(source, file, table, n, pii_key)
        if spool is not None and block.accepted is not None:
            spool.write(block.accepted)
            block.accepted = None
        blocks.append(block)
        n += table.rows
    if not blocks:
        empty = spool.finish() if spool is not None else empty_table(source)
        return Extraction(empty, _rejects_frame([]), 0, 0)
    rows = np.concatenate([b.rows for b in blocks])
    keys = np.concatenate([b.keys for b in blocks])
    key_present = np.concatenate([b.key_present for b in blocks])
    passing = np.concatenate([b.passing for b in blocks])
    for b in blocks:  # the file-wide copies above are what is used from here on
        b.rows = b.keys = _NO_HASHES

    duplicate = _duplicated(rows, "first")
    candidates = np.flatnonzero(~duplicate & key_present)
    conflicting = np.zeros(n, dtype=bool)
    if len(candidates):
        conflicting[candidates[_duplicated(keys[candidates], False)]] = True
    keep = passing & ~duplicate & ~conflicting

    key_header = "+".join(source.column(k).header for k in source.key_fields)
    parts: list[tuple[np.ndarray, pd.DataFrame]] = []
    for b in blocks:
        wanted = ~duplicate[b.rejects_at]
        r = b.rejects[wanted].reset_index(drop=True)
        at = b.rejects_at[wanted]
        clash = conflicting[at]
        r.loc[clash, "reason"] = "conflicting_key"  # the first rule a row breaks
        r.loc[clash, "column"] = key_header
        parts.append((at, r))
    late = np.flatnonzero(passing & ~duplicate & conflicting)
    if len(late):
        parts.extend(_read_again(source, export, late, key_header, pii_key))
    accepted: pa.Table | SpooledRows
    if spool is not None:
        accepted = spool.finish(keep[np.concatenate([b.accepted_at for b in blocks])])
    else:
        accepted = pa.concat_tables(
            [
                kept if keep[b.accepted_at].all() else kept.filter(keep[b.accepted_at])
                for b in blocks
                if (kept := b.accepted) is not None
            ]
        )
    return Extraction(accepted, _rejects_frame(parts), n, int(duplicate.sum()))


def _read_again(
    source: Source, export: Export, at: np.ndarray, key_header: str, pii_key: bytes
) -> list[tuple[np.ndarray, pd.DataFrame]]:
    """Rejects for rows known to be rejected only once the whole file was seen."""
    out = []
    start = 0
    for table in export.blocks():
        local = at[(at >= start) & (at < start + table.rows)] - start
        if len(local):
            n = len(local)
            reason = np.full(n, "conflicting_key", dtype=object)
            column = np.full(n, key_header, dtype=object)
            out.append((local + start, _rejects(source, table, local, reason, column, pii_key)))
        start += table.rows
    return out


def _rejects_frame(parts: list[tuple[np.ndarray, pd.DataFrame]]) -> pd.DataFrame:
    """Rejects of every block, in file order."""
    frames = [r for _, r in parts if len(r)]
    if not frames:
        return no_rejects()
    order = np.argsort(np.concatenate([at for at, r in parts if len(r)]), kind="stable")
    return pd.concat(frames, ignore_index=True).iloc[order].reset_index(drop=True)


def _reindexed(p: Parsed, keep: np.ndarray, fields: Sequence[str]) -> Parsed:
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


def _sha256(fp: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := fp.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def _abort(writer: SpoolWriter | None) -> None:
    if writer is not None:
        writer.abort()


def extract_bytes(
    file: LandingFile,
    fp: IO[bytes],
    *,
    pii_key: bytes,
    threshold: Decimal = DEFAULT_REJECT_THRESHOLD,
    spool_dir: Path | None = None,
) -> ExtractedBatch:
    """Read one delivery from a file object; never raises for bad content.

    The whole file object is read from its start, more than once (its hash, then its rows):
    a stream that cannot seek is first copied to memory. With `spool_dir`, the accepted rows
    are written there (`connectors.spool`) instead of being kept in memory.
    """
    source = SOURCES[file.source]
    if not fp.seekable():
        fp = io.BytesIO(fp.read())
    fp.seek(0)
    sha256 = _sha256(fp)

    def quarantined(reason: str, detail: str) -> ExtractedBatch:
        return ExtractedBatch(
            file=file,
            sha256=sha256,
            accepted=empty_table(source),
            rejects=no_rejects(),
            rows_read=0,
            rows_duplicate=0,
            verdict="quarantine",
            reason=reason,
            detail=detail,
        )

    def spool() -> SpoolWriter | None:
        return None if spool_dir is None else SpoolWriter(spool_dir, canonical_schema(source))

    writer = spool()
    try:
        try:
            export = read_export(fp, source, file.extension)
            result = extract_table(source, file, export, pii_key=pii_key, spool=writer)
        except StreamFailed:
            _abort(writer)
            writer = spool()
            export = read_export(fp, source, file.extension, stream=False)
            result = extract_table(source, file, export, pii_key=pii_key, spool=writer)
    except FileRejected as exc:
        _abort(writer)
        return quarantined(exc.reason, exc.detail)
    except MemoryError:
        _abort(writer)
        return quarantined("too_large", "out of memory while reading (MemoryError)")
    except RecursionError as exc:
        _abort(writer)
        return quarantined("unreadable", f"cannot be processed ({type(exc).__name__})")
    except BaseException:
        _abort(writer)
        raise
    batch = ExtractedBatch(
        file=file,
        sha256=sha256,
        accepted=result.accepted,
        rejects=result.rejects,
        rows_read=result.rows_read,
        rows_duplicate=result.rows_duplicate,
        warnings=list(export.warnings),
    )
    total = export.declared_total
    if total is not None and total != result.rows_read:
        batch.verdict, batch.reason = "quarantine", "truncated"
        batch.detail = f"'total' says {total} records, the file holds {result.rows_read}"
    elif share := reject_share_detail(batch.rows_rejected, batch.rows_read, threshold):
        batch.verdict, batch.reason, batch.detail = "quarantine", "reject_share", share
    return batch


def extract_file(
    file: LandingFile,
    *,
    pii_key: bytes,
    threshold: Decimal = DEFAULT_REJECT_THRESHOLD,
    spool_dir: Path | None = None,
) -> ExtractedBatch:
    """Read one delivery from the landing area. IO errors propagate: callers retry them."""
    with open_file(file) as fp:
        return extract_bytes(file, fp, pii_key=pii_key, threshold=threshold, spool_dir=spool_dir)
