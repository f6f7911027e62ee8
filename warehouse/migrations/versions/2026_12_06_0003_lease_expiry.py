"""lease expiry: source_lock gets a heartbeat, an expiry time and the holder's process space.

A lease taken before this revision expires one default time to live after it was taken.

Revision ID: 0003_lease_expiry
Revises: 0002
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0003_lease_expiry"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TTL = timedelta(seconds=300)  # the default time to live when this revision was written


def upgrade() -> None:
    with op.batch_alter_table("source_lock") as table:
        table.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("process", sa.String(length=128), nullable=True))
    lock = sa.table(
        "source_lock",
        sa.column("source", sa.String()),
        sa.column("acquired_at", sa.DateTime(timezone=True)),
        sa.column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.column("expires_at", sa.DateTime(timezone=True)),
    )
    conn = op.get_bind()
    for source, acquired in conn.execute(sa.select(lock.c.source, lock.c.acquired_at)).all():
        acquired = acquired.replace(tzinfo=UTC) if acquired.tzinfo is None else acquired
        conn.execute(
            sa.update(lock)
            .where(lock.c.source == source)
            .values(heartbeat_at=acquired, expires_at=acquired + TTL)
        )


def downgrade() -> None:
    with op.batch_alter_table("source_lock") as table:
        table.drop_column("process")
        table.drop_column("expires_at")
        table.drop_column("heartbeat_at")
