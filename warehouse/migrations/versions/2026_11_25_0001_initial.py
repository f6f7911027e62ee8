"""initial: batch ledger, reject store, source locks, one table per source.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 09:45:21.820659
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from warehouse.schema import Amount

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batch",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("delivery_order", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("rows_duplicate", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("validation_result", sa.Text(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch")),
        sa.UniqueConstraint("delivery_order", name=op.f("uq_batch_delivery_order")),
        sa.UniqueConstraint("source", "sha256", name=op.f("uq_batch_source_sha256")),
    )
    op.create_index(op.f("ix_batch_source"), "batch", ["source"], unique=False)
    op.create_table(
        "cases",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("case_no", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("filed_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("procedure", sa.Text(), nullable=True),
        sa.Column("discretion", sa.Text(), nullable=True),
        sa.Column("penalty_yuan", Amount(), nullable=True),
        sa.Column("to_police", sa.Boolean(), nullable=True),
        sa.Column("handling_unit", sa.Text(), nullable=True),
        sa.Column("campaign", sa.Text(), nullable=True),
        sa.Column("party_type", sa.Text(), nullable=True),
        sa.Column("party_name", sa.Text(), nullable=True),
        sa.Column("party_id", sa.Text(), nullable=True),
        comment="行政处罚案件: one row per accepted row of a published cases file",
    )
    op.create_index(
        "ix_cases_batch",
        "cases",
        ["batch_id"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_index(
        "ix_cases_partition_date",
        "cases",
        ["partition_date"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_table(
        "food_license",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("case_no", sa.Text(), nullable=True),
        sa.Column("license_no", sa.Text(), nullable=True),
        sa.Column("operator_name", sa.Text(), nullable=True),
        sa.Column("matter", sa.Text(), nullable=True),
        sa.Column("health_food", sa.Boolean(), nullable=True),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("concluded_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        comment="食品经营许可办件明细: one row per accepted row of a published food_license file",
    )
    op.create_index(
        "ix_food_license_batch",
        "food_license",
        ["batch_id"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_index(
        "ix_food_license_partition_date",
        "food_license",
        ["partition_date"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_table(
        "inspections",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("record_no", sa.Text(), nullable=True),
        sa.Column("target_name", sa.Text(), nullable=True),
        sa.Column("target_code", sa.Text(), nullable=True),
        sa.Column("target_type", sa.Text(), nullable=True),
        sa.Column("is_market_entity", sa.Boolean(), nullable=True),
        sa.Column("inspected_on", sa.Date(), nullable=True),
        sa.Column("method", sa.Text(), nullable=True),
        sa.Column("random_task_no", sa.Text(), nullable=True),
        sa.Column("campaign", sa.Text(), nullable=True),
        sa.Column("campaign_round", sa.BigInteger(), nullable=True),
        sa.Column("officers", sa.BigInteger(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        comment="监督检查记录: one row per accepted row of a published inspections file",
    )
    op.create_index(
        "ix_inspections_batch",
        "inspections",
        ["batch_id"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_index(
        "ix_inspections_partition_date",
        "inspections",
        ["partition_date"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_table(
        "ip_cases",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ref_no", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("handling", sa.Text(), nullable=True),
        sa.Column("trademark", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        comment="知识产权案件及线索: one row per accepted row of a published ip_cases file",
    )
    op.create_index(
        "ix_ip_cases_batch",
        "ip_cases",
        ["batch_id"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_index(
        "ix_ip_cases_partition_date",
        "ip_cases",
        ["partition_date"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_table(
        "ip_pledge",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reg_no", sa.Text(), nullable=True),
        sa.Column("pledgor", sa.Text(), nullable=True),
        sa.Column("pledgee", sa.Text(), nullable=True),
        sa.Column("collateral", sa.Text(), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("amount_wan", Amount(), nullable=True),
        comment="知识产权质押登记: one row per accepted row of a published ip_pledge file",
    )
    op.create_index(
        "ix_ip_pledge_batch",
        "ip_pledge",
        ["batch_id"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_index(
        "ix_ip_pledge_partition_date",
        "ip_pledge",
        ["partition_date"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_table(
        "ip_stats",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("month", sa.Date(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("patents_granted_ytd", sa.BigInteger(), nullable=True),
        sa.Column("invention_granted_ytd", sa.BigInteger(), nullable=True),
        sa.Column("valid_invention_patents", sa.BigInteger(), nullable=True),
        sa.Column("valid_trademarks", sa.BigInteger(), nullable=True),
        sa.Column("gi_trademarks", sa.BigInteger(), nullable=True),
        comment="知识产权统计月报: one row per accepted row of a published ip_stats file",
    )
    op.create_index(
        "ix_ip_stats_batch",
        "ip_stats",
        ["batch_id"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_index(
        "ix_ip_stats_partition_date",
        "ip_stats",
        ["partition_date"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_table(
        "medical_device",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acceptance_no", sa.Text(), nullable=True),
        sa.Column("company_name", sa.Text(), nullable=True),
        sa.Column("uscc", sa.Text(), nullable=True),
        sa.Column("application_type", sa.Text(), nullable=True),
        sa.Column("trade_mode", sa.Text(), nullable=True),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("concluded_on", sa.Date(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        comment="第三类医疗器械经营许可: one row per accepted row of a published medical_device file",
    )
    op.create_index(
        "ix_medical_device_batch",
        "medical_device",
        ["batch_id"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_index(
        "ix_medical_device_partition_date",
        "medical_device",
        ["partition_date"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_table(
        "registration",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("txn_id", sa.Text(), nullable=True),
        sa.Column("uscc", sa.Text(), nullable=True),
        sa.Column("entity_name", sa.Text(), nullable=True),
        sa.Column("entity_type", sa.Text(), nullable=True),
        sa.Column("txn_type", sa.Text(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("applied_on", sa.Date(), nullable=True),
        sa.Column("approved_on", sa.Date(), nullable=True),
        sa.Column("authority", sa.Text(), nullable=True),
        sa.Column("subdistrict", sa.Text(), nullable=True),
        comment="经营主体登记业务明细: one row per accepted row of a published registration file",
    )
    op.create_index(
        "ix_registration_batch",
        "registration",
        ["batch_id"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_index(
        "ix_registration_partition_date",
        "registration",
        ["partition_date"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_table(
        "source_lock",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_source_lock")),
    )
    op.create_table(
        "special_equipment",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reg_no", sa.Text(), nullable=True),
        sa.Column("equipment_code", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("user_unit", sa.Text(), nullable=True),
        sa.Column("units", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("applied_on", sa.Date(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        comment="特种设备使用登记: one row per accepted row of a published special_equipment file",
    )
    op.create_index(
        "ix_special_equipment_batch",
        "special_equipment",
        ["batch_id"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_index(
        "ix_special_equipment_partition_date",
        "special_equipment",
        ["partition_date"],
        unique=False,
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_table(
        "reject",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("column", sa.Text(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batch.id"], name=op.f("fk_reject_batch_id_batch"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reject")),
    )
    op.create_index(op.f("ix_reject_batch_id"), "reject", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reject_batch_id"), table_name="reject")
    op.drop_table("reject")
    op.drop_index(
        "ix_special_equipment_partition_date",
        table_name="special_equipment",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_index(
        "ix_special_equipment_batch",
        table_name="special_equipment",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_table("special_equipment")
    op.drop_table("source_lock")
    op.drop_index(
        "ix_registration_partition_date",
        table_name="registration",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_index(
        "ix_registration_batch",
        table_name="registration",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_table("registration")
    op.drop_index(
        "ix_medical_device_partition_date",
        table_name="medical_device",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_index(
        "ix_medical_device_batch",
        table_name="medical_device",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_table("medical_device")
    op.drop_index(
        "ix_ip_stats_partition_date",
        table_name="ip_stats",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_index(
        "ix_ip_stats_batch",
        table_name="ip_stats",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_table("ip_stats")
    op.drop_index(
        "ix_ip_pledge_partition_date",
        table_name="ip_pledge",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_index(
        "ix_ip_pledge_batch",
        table_name="ip_pledge",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_table("ip_pledge")
    op.drop_index(
        "ix_ip_cases_partition_date",
        table_name="ip_cases",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_index(
        "ix_ip_cases_batch",
        table_name="ip_cases",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_table("ip_cases")
    op.drop_index(
        "ix_inspections_partition_date",
        table_name="inspections",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_index(
        "ix_inspections_batch",
        table_name="inspections",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_table("inspections")
    op.drop_index(
        "ix_food_license_partition_date",
        table_name="food_license",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_index(
        "ix_food_license_batch",
        table_name="food_license",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_table("food_license")
    op.drop_index(
        "ix_cases_partition_date",
        table_name="cases",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_index(
        "ix_cases_batch",
        table_name="cases",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_table("cases")
    op.drop_index(op.f("ix_batch_source"), table_name="batch")
    op.drop_table("batch")
