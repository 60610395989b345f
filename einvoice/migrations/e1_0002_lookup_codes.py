"""einvoice: a random lookup code on every invoice (for the public lookup), existing ones too

Revision ID: e1_0002
Revises: e1_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from einvoice.lookup_codes import new_lookup_code

revision: str = "e1_0002"
down_revision: str | Sequence[str] | None = "e1_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

invoices = sa.table("einvoice_invoices", sa.column("id", sa.Integer), sa.column("lookup_code"))


def upgrade() -> None:
    with op.batch_alter_table("einvoice_invoices") as batch:
        batch.add_column(sa.Column("lookup_code", sa.String(16), nullable=True))
    conn = op.get_bind()
    ids = [row.id for row in conn.execute(sa.select(invoices.c.id))]
    for invoice_id in ids:  # invoices issued before: each gets its own random code
        conn.execute(
            invoices.update()
            .where(invoices.c.id == invoice_id)
            .values(lookup_code=new_lookup_code())
        )
    with op.batch_alter_table("einvoice_invoices") as batch:
        batch.create_unique_constraint("uq_einvoice_invoices_lookup_code", ["lookup_code"])


def downgrade() -> None:
    with op.batch_alter_table("einvoice_invoices") as batch:
        batch.drop_constraint("uq_einvoice_invoices_lookup_code", type_="unique")
        batch.drop_column("lookup_code")
