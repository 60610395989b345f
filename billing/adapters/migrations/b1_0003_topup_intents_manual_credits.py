"""billing: top-up intents (what a payment provider was asked for, credited by its signed
webhook) and operators' manual credits (journal kind ``credit``, with who and why).

Revision ID: b1_0003
Revises: b1_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1_0003"
down_revision: str | Sequence[str] | None = "b1_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_topup_intents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("credited_vnd", sa.BigInteger(), nullable=True),
        sa.Column("topup_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing_accounts.id"],
            name=op.f("fk_billing_topup_intents_account_id_billing_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["topup_id"],
            ["billing_topups.id"],
            name=op.f("fk_billing_topup_intents_topup_id_billing_topups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_topup_intents")),
        sa.UniqueConstraint("reference", name=op.f("uq_billing_topup_intents_reference")),
    )
    op.create_index(
        op.f("ix_billing_topup_intents_account_id"),
        "billing_topup_intents",
        ["account_id"],
        unique=False,
    )
    op.create_table(
        "billing_manual_credits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_key", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("journal_entry_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing_accounts.id"],
            name=op.f("fk_billing_manual_credits_account_id_billing_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["journal_entry_id"],
            ["billing_journal_entries.id"],
            name=op.f("fk_billing_manual_credits_journal_entry_id_billing_journal_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_manual_credits")),
        sa.UniqueConstraint("request_key", name=op.f("uq_billing_manual_credits_request_key")),
    )
    op.create_index(
        op.f("ix_billing_manual_credits_account_id"),
        "billing_manual_credits",
        ["account_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_billing_manual_credits_account_id"), table_name="billing_manual_credits")
    op.drop_table("billing_manual_credits")
    op.drop_index(op.f("ix_billing_topup_intents_account_id"), table_name="billing_topup_intents")
    op.drop_table("billing_topup_intents")
