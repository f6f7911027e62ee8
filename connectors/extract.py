"""The generic connector: one delivered file -> an ExtractedBatch.

Order of the contract: value rules and synonyms -> exact duplicates (on parsed values) ->
conflicting keys -> per-column rules -> period. Every step is a vectorized mask; a row's
reject reason is the first rule it breaks. The rules a block of rows can decide alone are
`connectors.rules` (personal data: `connectors.protection`); this module reads the file
block by block, decides the file-wide ones (duplicates, conflicting keys) and its verdict.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from connectors import row_hash
from connectors.batch import REJECT_COLUMNS, ExtractedBatch, LandingFile, no_rejects
from connectors.canonical import canonical_schema, canonical_table, empty_table
from connectors.consistency import INCONSISTENT, breaches
from connectors.landing import open_file
from connectors.protection import protect
from connectors.raw_table import Export, FileRejected, RawTable, StreamFailed
from connectors.readers import read_export
from connectors.rules import Parsed, Rejections, doubted, parse_table, reindexed, validate
from connectors.sources import SOURCES, Source
from connectors.spool import SpooledRows, SpoolWriter
from connectors.verdict import DEFAULT_REJECT_THRESHOLD, reject_share_detail


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
    rej = Rejections(table.rows)
    doubted(table, rej)
    partition = validate(source, p, rej, file)
    passing = ~rej.rejected
    frame = _canonical(source, p, passing, partition)
    conditions = source.protection_conditions
    frame = protect(
        source,
        reindexed(p, passing, conditions) if conditions else None,
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
            p = reindexed(parsed, rows, conditions)
    raw = protect(source, p, raw, pii_key, strict=True)
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
    elif broken := breaches(source, batch.accepted):
        batch.verdict, batch.reason = "quarantine", INCONSISTENT
        batch.detail = "consistency rule broken: " + "; ".join(broken)
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
