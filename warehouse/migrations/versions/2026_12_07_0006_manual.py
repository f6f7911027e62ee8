"""manual: the table of the offices' workbook of figures no export holds (source `manual`).

Revision ID: 0006_manual
Revises: 0005_delivery_warning
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from warehouse.schema import Amount

revision: str = "0006_manual"
down_revision: str | None = "0005_delivery_warning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "manual",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("value", Amount(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("entered_by", sa.Text(), nullable=True),
        comment="手工填报指标: one row per accepted row of a published manual file",
    )
    for name, column in (("batch", "batch_id"), ("partition_date", "partition_date")):
        op.create_index(
            f"ix_manual_{name}",
            "manual",
            [column],
            unique=False,
            postgresql_using="brin",
            postgresql_with={"autosummarize": "on"},
        )


def downgrade() -> None:
    op.drop_index("ix_manual_partition_date", table_name="manual")
    op.drop_index("ix_manual_batch", table_name="manual")
    op.drop_table("manual")
