"""billing: per-lot plate lists (blacklist, whitelist, VIP) that settlement consults.

Revision ID: b1_0006
Revises: b1_0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1_0006"
down_revision: str | Sequence[str] | None = "b1_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_lot_lists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("plate_text", sa.String(length=20), nullable=False),
        sa.Column("plate_key", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["billing_lots.id"], name=op.f("fk_billing_lot_lists_lot_id_billing_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_lot_lists")),
        sa.UniqueConstraint("lot_id", "plate_key", name=op.f("uq_billing_lot_lists_lot_id")),
    )


def downgrade() -> None:
    op.drop_table("billing_lot_lists")
