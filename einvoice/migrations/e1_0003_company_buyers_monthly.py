"""einvoice: the buyer's invoice email on each invoice, and the passages that wait for their
account's monthly consolidated invoice

Revision ID: e1_0003
Revises: e1_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e1_0003"
down_revision: str | Sequence[str] | None = "e1_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("einvoice_invoices") as batch:
        batch.add_column(sa.Column("buyer_email", sa.String(200), nullable=True))
    op.create_table(
        "einvoice_monthly_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_key", sa.String(200), nullable=False),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("seller_tax_code", sa.String(20), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("total_vnd", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["einvoice_invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key"),
    )
    op.create_index(
        "ix_einvoice_monthly_items_period", "einvoice_monthly_items", ["period", "account_id"]
    )
    op.create_index(
        "ix_einvoice_monthly_items_invoice_id", "einvoice_monthly_items", ["invoice_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_einvoice_monthly_items_invoice_id", table_name="einvoice_monthly_items")
    op.drop_index("ix_einvoice_monthly_items_period", table_name="einvoice_monthly_items")
    op.drop_table("einvoice_monthly_items")
    with op.batch_alter_table("einvoice_invoices") as batch:
        batch.drop_column("buyer_email")
