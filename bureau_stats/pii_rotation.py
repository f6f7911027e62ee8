"""Changing the PII key of a warehouse (`bureau-stats rotate-pii-key`).

Hashes are one-way and the warehouse keeps no identity number in clear, so the new hashes
cannot be computed from the stored ones. The originals are the delivered files: every
delivery in the ledger is read again from the landing area (its content checked against the
ledger's sha256) twice, with the old key and with the new one. Both readings hash the same
cells in the same order, so pairing them gives the map old hash -> new hash (whole-cell
hashes of identity columns, and the `hmac:` tokens standing for numbers found in text).
The map is then applied to every stored form — source tables, the reject store, the ledger's
detail and validation results — and the new key's fingerprint recorded, in one transaction.
A delivery whose file is gone or changed, or a stored hash the map does not cover, refuses
the whole rotation: nothing is half re-hashed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Engine, Table, func, select, update

from connectors.batch import LandingFile
from connectors.extract import extract_file
from connectors.landing import join
from connectors.sources import SOURCES
from warehouse.engine import WarehouseError, writer
from warehouse.pii_key import key_fingerprint, record_fingerprint, recorded_fingerprint
from warehouse.schema import batch, reject, source_table

_TOKEN = re.compile(r"hmac:[0-9a-f]{16}|(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
_HMAC = re.compile(r"hmac:[0-9a-f]{16}")


class RotationError(WarehouseError):
    """The rotation cannot be done as asked (exit 2): nothing was changed."""


@dataclass
class Rotation:
    """What a rotation did (or, in a dry run, would do)."""

    deliveries: int = 0
    hashes: int = 0
    cells: int = 0
    mapping: dict[str, str] = field(default_factory=dict)


def _tokens(text: object) -> list[str]:
    return _TOKEN.findall(text) if isinstance(text, str) else []


def _pair(mapping: dict[str, str], old: Iterable[Any], new: Iterable[Any], where: str) -> None:
    for a, b in zip(old, new, strict=True):
        if a == b:
            continue
        ta, tb = _tokens(a), _tokens(b)
        if len(ta) != len(tb):
            raise RotationError(f"{where}: the two readings differ beyond their hashes")
        for x, y in zip(ta, tb, strict=True):
            if mapping.setdefault(x, y) != y:
                raise RotationError(f"{where}: one hash maps to two new ones")


def _columns(table: pa.Table) -> dict[str, list[Any]]:
    return {
        name: table.column(name).to_pylist()
        for name in table.column_names
        if pa.types.is_string(table.schema.field(name).type)
        or pa.types.is_large_string(table.schema.field(name).type)
    }


def _sha256(path: str) -> str | None:
    import fsspec

    digest = hashlib.sha256()
    try:
        with fsspec.open(path, "rb") as fp:
            for chunk in iter(lambda: fp.read(1 << 20), b""):
                digest.update(chunk)
    except (OSError, ValueError):
        return None
    return digest.hexdigest()


def map_hashes(
    conn: Connection, landing: str, old: bytes, new: bytes
) -> tuple[dict[str, str], int]:
    """old hash -> new hash, from every delivery of the ledger read again with both keys."""
    mapping: dict[str, str] = {}
    rows = conn.execute(
        select(batch).where(batch.c.status != "pending").order_by(batch.c.delivery_order)
    ).all()
    missing = []
    for row in rows:
        path = join(landing, row.file)
        if _sha256(path) != row.sha256:
            missing.append(row.file)
            continue
        file = LandingFile(
            source=row.source,
            path=path,
            relative=row.file,
            period_start=row.period_start,
            period_end=row.period_end,
            version=row.version,
            extension=row.file.rsplit(".", 1)[-1].lower(),
        )
        a = extract_file(file, pii_key=old)
        b = extract_file(file, pii_key=new)
        if isinstance(a.accepted, pa.Table) and isinstance(b.accepted, pa.Table):
            ca, cb = _columns(a.accepted), _columns(b.accepted)
            for name in ca:
                _pair(mapping, ca[name], cb[name], row.file)
        _pair(mapping, a.rejects["raw"].tolist(), b.rejects["raw"].tolist(), row.file)
        _pair(mapping, [a.detail], [b.detail], row.file)
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise RotationError(
            f"cannot rotate: {len(missing)} delivered file(s) are no longer in the landing area "
            f"{landing} as delivered (the originals of their hashes): {shown}"
        )
    return mapping, len(rows)


def _rewrite(text: str, mapping: dict[str, str], unmapped: set[str], whole: bool) -> str:
    """`text` with every mapped hash replaced; an unmapped `hmac:` token (or, in an identity
    column hashed whole, an unmapped 64-hex value) is noted in `unmapped`."""

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token in mapping:
            return mapping[token]
        if token.startswith("hmac:") or whole:
            unmapped.add(token)
        return token

    return _TOKEN.sub(sub, text)


def _apply(conn: Connection, mapping: dict[str, str]) -> int:
    """Every stored hash replaced by its new form; returns the cells changed."""
    changed = 0
    unmapped: set[str] = set()
    targets: list[tuple[Table, list[Any], list[str], set[str]]] = [
        (reject, [reject.c.id], ["raw"], set()),
        (batch, [batch.c.id], ["detail", "validation_result"], set()),
    ]
    for code, source in SOURCES.items():
        table = source_table(code)
        text = [c.field for c in source.columns if c.type == "text"]
        whole = {c.field for c in source.columns if c.hash_when is not None}
        if text:
            targets.append((table, [table.c.batch_id, table.c.line], text, whole))
    for table, keys, names, whole in targets:
        for name in names:
            column = table.c[name]
            maybe = column.like("%hmac:%") | (func.length(column) >= 64)
            for row in conn.execute(select(*keys, column).where(maybe)).all():
                *key, text = row
                if not isinstance(text, str):
                    continue
                new = _rewrite(text, mapping, unmapped, name in whole)
                if new == text:
                    continue
                where = [k == v for k, v in zip(keys, key, strict=True)]
                conn.execute(update(table).where(*where).values({name: new}))
                changed += 1
    if unmapped:
        raise RotationError(
            f"cannot rotate: {len(unmapped)} stored hash(es) come from no delivered file "
            "(rows written outside the pipeline?); nothing was changed"
        )
    return changed


def rotate_pii_key(
    engine: Engine, landing: str, old: bytes, new: bytes, *, dry_run: bool = False
) -> Rotation:
    """Re-hash the warehouse from `old` to `new` in one transaction (rolled back when
    `dry_run`). Refuses unless `old` is the warehouse's recorded key."""
    if old == new:
        raise RotationError("the old and the new key are the same")
    result = Rotation()
    try:
        with writer(engine) as conn:
            stored = recorded_fingerprint(conn)
            if stored == key_fingerprint(new):
                raise RotationError("the warehouse already uses the new key: nothing to rotate")
            if stored is not None and stored != key_fingerprint(old):
                raise RotationError(
                    "the old key is not the key this warehouse's hashes were made with"
                )
            result.mapping, result.deliveries = map_hashes(conn, landing, old, new)
            result.hashes = len(result.mapping)
            result.cells = _apply(conn, result.mapping)
            record_fingerprint(conn, new)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return result


class _DryRun(Exception):
    """Rolls the rotation's transaction back once everything was computed."""
