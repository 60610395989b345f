"""gateway: users, operator grants, audit log, webhook deliveries

Revision ID: gw_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gw_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("gateway",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gw_users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(120), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gw_users"),
        sa.UniqueConstraint("username", name="uq_gw_users_username"),
        sa.CheckConstraint("role IN ('driver', 'operator', 'admin')", name="ck_gw_users_role"),
    )
    op.create_index("ix_gw_users_account_id", "gw_users", ["account_id"])
    op.create_table(
        "gw_operator_grants",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.String(64), nullable=True),
        sa.Column("company", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gw_operator_grants"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["gw_users.id"],
            name="fk_gw_operator_grants_user_id_gw_users",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("user_id", "lot_id", "company", name="uq_gw_operator_grants_scope"),
        sa.CheckConstraint(
            "lot_id IS NOT NULL OR company IS NOT NULL", name="ck_gw_operator_grants_scope"
        ),
    )
    op.create_index("ix_gw_operator_grants_user_id", "gw_operator_grants", ["user_id"])
    op.create_table(
        "gw_audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(120), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_kind", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gw_audit_log"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["gw_users.id"],
            name="fk_gw_audit_log_user_id_gw_users",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_gw_audit_log_at", "gw_audit_log", ["at"])
    op.create_index("ix_gw_audit_log_target_id", "gw_audit_log", ["target_id"])
    op.create_table(
        "gw_webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gw_webhook_deliveries"),
        sa.UniqueConstraint("idempotency_key", name="uq_gw_webhook_deliveries_idempotency_key"),
    )


def downgrade() -> None:
    op.drop_table("gw_webhook_deliveries")
    op.drop_index("ix_gw_audit_log_target_id", table_name="gw_audit_log")
    op.drop_index("ix_gw_audit_log_at", table_name="gw_audit_log")
    op.drop_table("gw_audit_log")
    op.drop_index("ix_gw_operator_grants_user_id", table_name="gw_operator_grants")
    op.drop_table("gw_operator_grants")
    op.drop_index("ix_gw_users_account_id", table_name="gw_users")
    op.drop_table("gw_users")
