"""gateway: a verified webhook delivery records the payment it reported (provider, transaction,
reference, account, amount) before billing credits it; its answer is NULL meanwhile.

Revision ID: gw_0002
Revises: gw_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gw_0002"
down_revision: str | Sequence[str] | None = "gw_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "gw_webhook_deliveries"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("status_code", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("provider", sa.String(40), nullable=True))
        batch.add_column(sa.Column("provider_txn_id", sa.String(120), nullable=True))
        batch.add_column(sa.Column("reference", sa.String(120), nullable=True))
        batch.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("amount_vnd", sa.BigInteger(), nullable=True))
    op.create_index("ix_gw_webhook_deliveries_payment", TABLE, ["provider", "provider_txn_id"])
    op.create_index("ix_gw_webhook_deliveries_received_at", TABLE, ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_gw_webhook_deliveries_received_at", table_name=TABLE)
    op.drop_index("ix_gw_webhook_deliveries_payment", table_name=TABLE)
    op.execute(f"DELETE FROM {TABLE} WHERE status_code IS NULL")
    with op.batch_alter_table(TABLE) as batch:
        for column in ("amount_vnd", "account_id", "reference", "provider_txn_id", "provider"):
            batch.drop_column(column)
        batch.alter_column("status_code", existing_type=sa.Integer(), nullable=False)
