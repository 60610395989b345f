"""billing: passages the lot's edge decided alone (``decided_offline``), for the offline
exposure per lot and day in reconciliation.

Revision ID: b1_0005
Revises: b1_0004 (the head on main when this was merged)
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1_0005"
down_revision: str | Sequence[str] | None = "b1_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_offline_decisions",
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("gate_id", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edge_opened", sa.Boolean(), nullable=False),
        sa.Column("edge_reason", sa.String(length=30), nullable=False),
        sa.Column("credit_vnd", sa.BigInteger(), nullable=False),
        sa.Column("edge_fare_vnd", sa.BigInteger(), nullable=False),
        sa.Column("allowlist_version", sa.BigInteger(), nullable=True),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("fare_vnd", sa.BigInteger(), nullable=True),
        sa.Column("exposure_vnd", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["passage_id"],
            ["billing_passages.id"],
            name=op.f("fk_billing_offline_decisions_passage_id_billing_passages"),
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_billing_offline_decisions")),
    )
    op.create_index(
        "ix_billing_offline_decisions_lot_day",
        "billing_offline_decisions",
        ["lot_id", "local_day"],
    )


def downgrade() -> None:
    op.drop_index("ix_billing_offline_decisions_lot_day", table_name="billing_offline_decisions")
    op.drop_table("billing_offline_decisions")
