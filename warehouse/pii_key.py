"""One PII key per warehouse: a keyed fingerprint of the key the identity numbers were
hashed with (rule 7), so a run with another key is refused instead of silently breaking
the links between a person's deliveries.

The fingerprint is HMAC(key, FINGERPRINT_MESSAGE): it identifies the key without revealing
it (nothing is derived from a stored hash). The first run on a warehouse records it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from sqlalchemy import Column, Connection, DateTime, Engine, Integer, String, Table, select

from warehouse.engine import WarehouseError, writer
from warehouse.schema import metadata

FINGERPRINT_MESSAGE = b"bureau-stats pii key fingerprint"

pii_key = Table(
    "pii_key",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    comment="The keyed fingerprint of the PII key this warehouse's hashes were made with (one row)",
)


class PiiKeyMismatch(WarehouseError):
    """The configured PII key is not the warehouse's (exit 2 in the CLI)."""


def key_fingerprint(key: bytes) -> str:
    return hmac.new(key, FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()


def recorded_fingerprint(conn: Connection) -> str | None:
    return conn.execute(select(pii_key.c.fingerprint).where(pii_key.c.id == 1)).scalar()


def record_fingerprint(conn: Connection, key: bytes) -> None:
    """Store (or replace) the warehouse's key fingerprint, inside the caller's transaction."""
    values = {"fingerprint": key_fingerprint(key), "recorded_at": datetime.now(UTC)}
    if conn.execute(pii_key.update().where(pii_key.c.id == 1).values(**values)).rowcount == 0:
        conn.execute(pii_key.insert().values(id=1, **values))


def check_pii_key(engine: Engine, key: bytes) -> None:
    """Refuse a key other than the warehouse's; the first key used is recorded."""
    with engine.connect() as conn:
        stored = recorded_fingerprint(conn)
    if stored is None:
        with writer(engine) as conn:
            if recorded_fingerprint(conn) is None:
                record_fingerprint(conn, key)
                return
            stored = recorded_fingerprint(conn)
    if not hmac.compare_digest(stored or "", key_fingerprint(key)):
        raise PiiKeyMismatch(
            "BUREAU_STATS_PII_KEY is not the key this warehouse's identity numbers were hashed "
            "with; use that key, or change keys with `bureau-stats rotate-pii-key`"
        )
