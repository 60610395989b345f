"""gateway: operator alerts (one open row per condition) and their deliveries (email, webhook)

Revision ID: gw_0004
Revises: gw_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gw_0004"
down_revision: str | Sequence[str] | None = "gw_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gw_alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lot_id", sa.String(40), nullable=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gw_alerts"),
    )
    op.create_index("ix_gw_alerts_key_open", "gw_alerts", ["key", "cleared_at"])
    op.create_index("ix_gw_alerts_opened_at", "gw_alerts", ["opened_at"])
    op.create_table(
        "gw_alert_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(10), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gw_alert_deliveries"),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["gw_alerts.id"], name="fk_gw_alert_deliveries_alert_id_gw_alerts"
        ),
        sa.UniqueConstraint(
            "alert_id", "event", "channel", "recipient", name="uq_gw_alert_deliveries_to"
        ),
    )
    op.create_index("ix_gw_alert_deliveries_alert_id", "gw_alert_deliveries", ["alert_id"])
    op.create_index(
        "ix_gw_alert_deliveries_next_attempt_at", "gw_alert_deliveries", ["next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("gw_alert_deliveries")
    op.drop_table("gw_alerts")
