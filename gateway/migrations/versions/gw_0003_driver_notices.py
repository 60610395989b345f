"""gateway: drivers' contacts, notices and their deliveries, phone verifications

Revision ID: gw_0003 (gw_0002 is the payments' verified deliveries, on another branch: when
both are in one tree, this one revises gw_0002)
Revises: gw_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gw_0003"
down_revision: str | Sequence[str] | None = "gw_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gw_users") as batch:
        batch.add_column(sa.Column("phone", sa.String(20), nullable=True))
        batch.add_column(
            sa.Column("notify_sms", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("notify_email", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("lang", sa.String(2), nullable=False, server_default="vi"))
        batch.create_unique_constraint("uq_gw_users_phone", ["phone"])
    op.create_table(
        "gw_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gw_notices"),
        sa.UniqueConstraint("key", name="uq_gw_notices_key"),
    )
    op.create_index("ix_gw_notices_account_id", "gw_notices", ["account_id"])
    op.create_index("ix_gw_notices_created_at", "gw_notices", ["created_at"])
    op.create_table(
        "gw_notice_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gw_notice_deliveries"),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["gw_notices.id"],
            name="fk_gw_notice_deliveries_notice_id_gw_notices",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("notice_id", "channel", "recipient", name="uq_gw_notice_deliveries_to"),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name="ck_gw_notice_deliveries_status"
        ),
    )
    op.create_index("ix_gw_notice_deliveries_notice_id", "gw_notice_deliveries", ["notice_id"])
    op.create_index(
        "ix_gw_notice_deliveries_next_attempt_at", "gw_notice_deliveries", ["next_attempt_at"]
    )
    op.create_table(
        "gw_verifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("code_hash", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gw_verifications"),
        sa.UniqueConstraint("token", name="uq_gw_verifications_token"),
    )
    op.create_index("ix_gw_verifications_phone", "gw_verifications", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_gw_verifications_phone", table_name="gw_verifications")
    op.drop_table("gw_verifications")
    op.drop_index("ix_gw_notice_deliveries_next_attempt_at", table_name="gw_notice_deliveries")
    op.drop_index("ix_gw_notice_deliveries_notice_id", table_name="gw_notice_deliveries")
    op.drop_table("gw_notice_deliveries")
    op.drop_index("ix_gw_notices_created_at", table_name="gw_notices")
    op.drop_index("ix_gw_notices_account_id", table_name="gw_notices")
    op.drop_table("gw_notices")
    with op.batch_alter_table("gw_users") as batch:
        batch.drop_constraint("uq_gw_users_phone", type_="unique")
        batch.drop_column("lang")
        batch.drop_column("notify_email")
        batch.drop_column("notify_sms")
        batch.drop_column("phone")
