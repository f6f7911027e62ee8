"""published_at defaults to the publish transaction's start on PostgreSQL.

The publish transaction begins once the source's lock is held and stamps its rows with its
own start (`warehouse.leases.publish_transaction`): COPY leaves the column off the wire
instead of sending one timestamp per row. SQLite keeps no default (its rows are written with
the stamp).

Revision ID: 0007_published_at_default
Revises: 0006_manual
Create Date: 2026-12-08 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_published_at_default"
down_revision: str | None = "0006_manual"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The source tables as of this revision (a later source brings its default in its own).
TABLES = (
    "registration",
    "food_license",
    "special_equipment",
    "medical_device",
    "cases",
    "inspections",
    "ip_stats",
    "ip_cases",
    "ip_pledge",
    "manual",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "published_at", server_default=sa.text("transaction_timestamp()"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "published_at", server_default=None)
