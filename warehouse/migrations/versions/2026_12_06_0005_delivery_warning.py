"""delivery_warning: each delivered file's warnings (rule, column, rows) for `status --json`.

Revision ID: 0005_delivery_warning
Revises: 0004
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_delivery_warning"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_warning",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("column", sa.Text(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batch.id"],
            name=op.f("fk_delivery_warning_batch_id_batch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_warning")),
    )
    op.create_index(
        op.f("ix_delivery_warning_batch_id"), "delivery_warning", ["batch_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_warning_batch_id"), table_name="delivery_warning")
    op.drop_table("delivery_warning")
