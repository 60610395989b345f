"""billing: where a company's invoices go (invoice_email) and the monthly consolidated invoice
as an account option (invoice_monthly)

Revision ID: b1_0007
Revises: b1_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1_0007"
down_revision: str | Sequence[str] | None = "b1_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("billing_accounts") as batch:
        batch.add_column(sa.Column("invoice_email", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column("invoice_monthly", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("billing_accounts") as batch:
        batch.drop_column("invoice_monthly")
        batch.drop_column("invoice_email")
