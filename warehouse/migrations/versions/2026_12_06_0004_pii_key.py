"""pii key: the keyed fingerprint of the warehouse's PII key (table in warehouse/pii_key.py).

Revision ID: 0004
Revises: 0003_lease_expiry
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003_lease_expiry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pii_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pii_key")),
        comment="The keyed fingerprint of the PII key this warehouse's hashes were made with (one row)",
    )


def downgrade() -> None:
    op.drop_table("pii_key")
