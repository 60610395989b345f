"""einvoice: invoices, status history, number counters, messages and submission attempts

Revision ID: e1_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e1_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("einvoice",)
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "einvoice_counters",
        sa.Column("template", sa.String(16), primary_key=True),
        sa.Column("series", sa.String(16), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("last_number", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "einvoice_messages",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("message_type", sa.Integer, nullable=False),
        sa.Column("request_xml", sa.LargeBinary, nullable=False),
        sa.Column("response_xml", sa.LargeBinary, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
    )
    op.create_table(
        "einvoice_invoices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_key", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "related_invoice_id", sa.Integer, sa.ForeignKey("einvoice_invoices.id"), nullable=True
        ),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("template", sa.String(4), nullable=False),
        sa.Column("series", sa.String(8), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("issue_date", sa.Date, nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("mccqt", sa.String(32), nullable=True),
        sa.Column("seller_tax_code", sa.String(20), nullable=False),
        sa.Column("seller_name", sa.String(400), nullable=False),
        sa.Column("buyer_account_id", sa.String(100), nullable=True),
        sa.Column("buyer_name", sa.String(400), nullable=True),
        sa.Column("buyer_tax_code", sa.String(20), nullable=True),
        sa.Column("lot_id", sa.String(100), nullable=True),
        sa.Column("plate", sa.String(32), nullable=True),
        sa.Column("pretax_vnd", sa.BigInteger, nullable=False),
        sa.Column("vat_vnd", sa.BigInteger, nullable=False),
        sa.Column("total_vnd", sa.BigInteger, nullable=False),
        sa.Column("vat_rate", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("xml", sa.LargeBinary, nullable=False),
        sa.Column("authority_xml", sa.LargeBinary, nullable=True),
        sa.Column(
            "message_id",
            sa.String(64),
            sa.ForeignKey("einvoice_messages.message_id"),
            nullable=True,
        ),
        sa.Column("submit_attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("request_key"),
        sa.UniqueConstraint("mccqt"),
        sa.UniqueConstraint("template", "series", "year", "number", name="uq_einvoice_number"),
    )
    op.create_index("ix_einvoice_invoices_event_id", "einvoice_invoices", ["event_id"])
    op.create_index(
        "ix_einvoice_invoices_buyer_account_id", "einvoice_invoices", ["buyer_account_id"]
    )
    op.create_index("ix_einvoice_invoices_lot_id", "einvoice_invoices", ["lot_id"])
    op.create_index("ix_einvoice_invoices_status", "einvoice_invoices", ["status"])
    op.create_index("ix_einvoice_invoices_issue_date", "einvoice_invoices", ["issue_date"])
    op.create_table(
        "einvoice_status_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("invoice_id", sa.Integer, sa.ForeignKey("einvoice_invoices.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON, nullable=True),
    )
    op.create_index(
        "ix_einvoice_status_history_invoice_id", "einvoice_status_history", ["invoice_id"]
    )
    op.create_table(
        "einvoice_submission_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "message_id",
            sa.String(64),
            sa.ForeignKey("einvoice_messages.message_id"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("http_status", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_einvoice_submission_attempts_message_id",
        "einvoice_submission_attempts",
        ["message_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_einvoice_submission_attempts_message_id", table_name="einvoice_submission_attempts"
    )
    op.drop_table("einvoice_submission_attempts")
    op.drop_index("ix_einvoice_status_history_invoice_id", table_name="einvoice_status_history")
    op.drop_table("einvoice_status_history")
    for name in ("issue_date", "status", "lot_id", "buyer_account_id", "event_id"):
        op.drop_index(f"ix_einvoice_invoices_{name}", table_name="einvoice_invoices")
    op.drop_table("einvoice_invoices")
    op.drop_table("einvoice_messages")
    op.drop_table("einvoice_counters")
