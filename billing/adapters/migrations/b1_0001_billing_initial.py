"""billing: operators, lots, gates, accounts, vehicles, passes, sessions, passages, review,
ledger (chart of accounts, journal), top-ups and the outbox.

Revision ID: b1_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("billing",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tax_code", sa.String(length=14), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("balance_vnd", sa.BigInteger(), nullable=False),
        sa.Column("auto_topup_threshold_vnd", sa.BigInteger(), nullable=True),
        sa.Column("auto_topup_amount_vnd", sa.BigInteger(), nullable=True),
        sa.Column("auto_topup_provider", sa.String(length=40), nullable=True),
        sa.Column("low_balance_notice_vnd", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_accounts")),
    )
    op.create_table(
        "billing_journal_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("lot_id", sa.String(length=40), nullable=True),
        sa.Column("event_id", sa.String(length=80), nullable=True),
        sa.Column("reverses_entry_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_journal_entries")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_billing_journal_entries_idempotency_key")
        ),
    )
    op.create_index(
        op.f("ix_billing_journal_entries_account_id"),
        "billing_journal_entries",
        ["account_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_billing_journal_entries_created_at"),
        "billing_journal_entries",
        ["created_at"],
        unique=False,
    )
    op.create_table(
        "billing_ledger_accounts",
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_billing_ledger_accounts")),
    )
    op.create_table(
        "billing_operators",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tax_code", sa.String(length=14), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("invoice_template", sa.String(length=20), nullable=False),
        sa.Column("invoice_series", sa.String(length=20), nullable=False),
        sa.Column("invoice_mode", sa.String(length=20), nullable=False),
        sa.Column("cash_register_code", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_operators")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_outbox_kind")),
    )
    op.create_index("ix_outbox_pending", "outbox", ["kind", "processed_at", "id"], unique=False)
    op.create_table(
        "billing_journal_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("ledger_account", sa.String(length=80), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["billing_journal_entries.id"],
            name=op.f("fk_billing_journal_lines_entry_id_billing_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["ledger_account"],
            ["billing_ledger_accounts.code"],
            name=op.f("fk_billing_journal_lines_ledger_account_billing_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_journal_lines")),
    )
    op.create_index(
        op.f("ix_billing_journal_lines_entry_id"),
        "billing_journal_lines",
        ["entry_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_billing_journal_lines_ledger_account"),
        "billing_journal_lines",
        ["ledger_account"],
        unique=False,
    )
    op.create_table(
        "billing_lots",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("tariff_id", sa.String(length=40), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["billing_operators.id"],
            name=op.f("fk_billing_lots_operator_id_billing_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_lots")),
    )
    op.create_table(
        "billing_topups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("provider_txn_id", sa.String(length=120), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("journal_entry_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing_accounts.id"],
            name=op.f("fk_billing_topups_account_id_billing_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["journal_entry_id"],
            ["billing_journal_entries.id"],
            name=op.f("fk_billing_topups_journal_entry_id_billing_journal_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_topups")),
        sa.UniqueConstraint("provider", "provider_txn_id", name=op.f("uq_billing_topups_provider")),
    )
    op.create_index(
        op.f("ix_billing_topups_account_id"), "billing_topups", ["account_id"], unique=False
    )
    op.create_table(
        "billing_vehicles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("plate_text", sa.String(length=20), nullable=False),
        sa.Column("plate_key", sa.String(length=16), nullable=False),
        sa.Column("vehicle_class", sa.String(length=20), nullable=False),
        sa.Column("plate_colour", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing_accounts.id"],
            name=op.f("fk_billing_vehicles_account_id_billing_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_vehicles")),
    )
    op.create_index(
        op.f("ix_billing_vehicles_account_id"), "billing_vehicles", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_billing_vehicles_plate_key"), "billing_vehicles", ["plate_key"], unique=False
    )
    op.create_index(
        "uq_billing_vehicles_active_key",
        "billing_vehicles",
        ["plate_key"],
        unique=True,
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active"),
    )
    op.create_table(
        "billing_gates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["billing_lots.id"], name=op.f("fk_billing_gates_lot_id_billing_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_gates")),
    )
    op.create_index(op.f("ix_billing_gates_lot_id"), "billing_gates", ["lot_id"], unique=False)
    op.create_table(
        "billing_passes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("price_vnd", sa.BigInteger(), nullable=False),
        sa.Column("journal_entry_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["journal_entry_id"],
            ["billing_journal_entries.id"],
            name=op.f("fk_billing_passes_journal_entry_id_billing_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["billing_lots.id"], name=op.f("fk_billing_passes_lot_id_billing_lots")
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["billing_vehicles.id"],
            name=op.f("fk_billing_passes_vehicle_id_billing_vehicles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_passes")),
    )
    op.create_index(
        op.f("ix_billing_passes_vehicle_id"), "billing_passes", ["vehicle_id"], unique=False
    )
    op.create_table(
        "billing_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("plate_text", sa.String(length=20), nullable=False),
        sa.Column("plate_key", sa.String(length=16), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("vehicle_class", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("entry_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entry_passage_id", sa.Integer(), nullable=True),
        sa.Column("exit_passage_id", sa.Integer(), nullable=True),
        sa.Column("fare_vnd", sa.BigInteger(), nullable=True),
        sa.Column("fare_lines", sa.JSON(), nullable=True),
        sa.Column("tariff_version", sa.String(length=60), nullable=True),
        sa.Column("payment", sa.String(length=10), nullable=True),
        sa.Column("journal_entry_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing_accounts.id"],
            name=op.f("fk_billing_sessions_account_id_billing_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["billing_lots.id"], name=op.f("fk_billing_sessions_lot_id_billing_lots")
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["billing_vehicles.id"],
            name=op.f("fk_billing_sessions_vehicle_id_billing_vehicles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_sessions")),
    )
    op.create_index(
        op.f("ix_billing_sessions_account_id"), "billing_sessions", ["account_id"], unique=False
    )
    op.create_index(
        "ix_billing_sessions_lot_exit", "billing_sessions", ["lot_id", "exit_at"], unique=False
    )
    op.create_index(
        "uq_billing_sessions_open",
        "billing_sessions",
        ["lot_id", "plate_key"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "billing_passages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("gate_id", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plate_read", sa.String(length=40), nullable=True),
        sa.Column("plate_text", sa.String(length=20), nullable=True),
        sa.Column("plate_key", sa.String(length=16), nullable=True),
        sa.Column("plate_confidence", sa.Float(), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("image_ref", sa.String(length=300), nullable=True),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("fare_vnd", sa.BigInteger(), nullable=True),
        sa.Column("review_status", sa.String(length=10), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gate_id"],
            ["billing_gates.id"],
            name=op.f("fk_billing_passages_gate_id_billing_gates"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["billing_lots.id"], name=op.f("fk_billing_passages_lot_id_billing_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_passages")),
        sa.UniqueConstraint("event_id", name=op.f("uq_billing_passages_event_id")),
    )
    op.create_index(
        op.f("ix_billing_passages_account_id"), "billing_passages", ["account_id"], unique=False
    )
    op.create_index(
        "ix_billing_passages_dup",
        "billing_passages",
        ["gate_id", "plate_key", "captured_at"],
        unique=False,
    )
    op.create_index(
        "ix_billing_passages_lot_time", "billing_passages", ["lot_id", "captured_at"], unique=False
    )
    op.create_index(
        op.f("ix_billing_passages_review_status"),
        "billing_passages",
        ["review_status"],
        unique=False,
    )
    op.create_table(
        "billing_review_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["passage_id"],
            ["billing_passages.id"],
            name=op.f("fk_billing_review_actions_passage_id_billing_passages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_review_actions")),
    )
    op.create_index(
        op.f("ix_billing_review_actions_passage_id"),
        "billing_review_actions",
        ["passage_id"],
        unique=False,
    )

    ledger_accounts = sa.table(
        "billing_ledger_accounts",
        sa.column("code", sa.String),
        sa.column("kind", sa.String),
        sa.column("name", sa.String),
    )
    op.bulk_insert(
        ledger_accounts,
        [{"code": "liability:vat_payable", "kind": "liability", "name": "VAT payable"}],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_billing_review_actions_passage_id"), table_name="billing_review_actions")
    op.drop_table("billing_review_actions")
    op.drop_index(op.f("ix_billing_passages_review_status"), table_name="billing_passages")
    op.drop_index("ix_billing_passages_lot_time", table_name="billing_passages")
    op.drop_index("ix_billing_passages_dup", table_name="billing_passages")
    op.drop_index(op.f("ix_billing_passages_account_id"), table_name="billing_passages")
    op.drop_table("billing_passages")
    op.drop_index(
        "uq_billing_sessions_open",
        table_name="billing_sessions",
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.drop_index("ix_billing_sessions_lot_exit", table_name="billing_sessions")
    op.drop_index(op.f("ix_billing_sessions_account_id"), table_name="billing_sessions")
    op.drop_table("billing_sessions")
    op.drop_index(op.f("ix_billing_passes_vehicle_id"), table_name="billing_passes")
    op.drop_table("billing_passes")
    op.drop_index(op.f("ix_billing_gates_lot_id"), table_name="billing_gates")
    op.drop_table("billing_gates")
    op.drop_index(
        "uq_billing_vehicles_active_key",
        table_name="billing_vehicles",
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active"),
    )
    op.drop_index(op.f("ix_billing_vehicles_plate_key"), table_name="billing_vehicles")
    op.drop_index(op.f("ix_billing_vehicles_account_id"), table_name="billing_vehicles")
    op.drop_table("billing_vehicles")
    op.drop_index(op.f("ix_billing_topups_account_id"), table_name="billing_topups")
    op.drop_table("billing_topups")
    op.drop_table("billing_lots")
    op.drop_index(
        op.f("ix_billing_journal_lines_ledger_account"), table_name="billing_journal_lines"
    )
    op.drop_index(op.f("ix_billing_journal_lines_entry_id"), table_name="billing_journal_lines")
    op.drop_table("billing_journal_lines")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("billing_operators")
    op.drop_table("billing_ledger_accounts")
    op.drop_index(
        op.f("ix_billing_journal_entries_created_at"), table_name="billing_journal_entries"
    )
    op.drop_index(
        op.f("ix_billing_journal_entries_account_id"), table_name="billing_journal_entries"
    )
    op.drop_table("billing_journal_entries")
    op.drop_table("billing_accounts")
