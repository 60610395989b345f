"""Tables of the invoicing side: invoices, their status history, number counters, submissions.

The migration in ``einvoice/migrations`` creates the same tables; a test compares the two so
they cannot drift apart. Amounts are integer VND (``BigInteger``); times are stored in UTC and
always come back timezone-aware, also from SQLite, which keeps no offset.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from billing.sqltypes import UtcDateTime

metadata = MetaData()


# Invoice statuses, in the order an invoice normally goes through them.
SIGNED = "signed"
SENT = "sent"
ACCEPTED = "accepted"
REJECTED = "rejected"
STATUSES = (SIGNED, SENT, ACCEPTED, REJECTED)
FINAL_STATUSES = (ACCEPTED, REJECTED)

CASH_REGISTER = "cash_register"
AUTHORITY_CODED = "authority_coded"

# What an invoice is: the original for a passage, or a correction of an earlier one.
ORIGINAL = "original"
REPLACING = "replacing"  # TCHDon 1
ADJUSTING = "adjusting"  # TCHDon 2

# One row per (template, series, year): the last number handed out. Also holds the sequence
# of seller-made MCCQT codes (template "MCCQT<digit>", series = the seller's register code).
counters = Table(
    "einvoice_counters",
    metadata,
    Column("template", String(16), primary_key=True),
    Column("series", String(16), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_number", BigInteger, nullable=False),
)

invoices = Table(
    "einvoice_invoices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # What the invoice was made for: the gate event id for a passage, a correction's own key
    # otherwise. Unique: one request never yields two invoices.
    Column("request_key", String(200), nullable=False, unique=True),
    Column("event_id", String(200), nullable=True, index=True),
    Column("kind", String(16), nullable=False, default=ORIGINAL),
    Column("related_invoice_id", Integer, ForeignKey("einvoice_invoices.id"), nullable=True),
    Column("mode", String(20), nullable=False),
    Column("template", String(4), nullable=False),
    Column("series", String(8), nullable=False),
    Column("year", Integer, nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("mccqt", String(32), nullable=True, unique=True),
    # Printed on the invoice for the public lookup: random (einvoice.lookup_codes), unique.
    Column("lookup_code", String(16), nullable=True, unique=True),
    Column("seller_tax_code", String(20), nullable=False),
    Column("seller_name", String(400), nullable=False),
    Column("buyer_account_id", String(100), nullable=True, index=True),
    Column("buyer_name", String(400), nullable=True),
    Column("buyer_tax_code", String(20), nullable=True),
    # Where the buyer wants the invoice emailed (a company's accountant), if anywhere.
    Column("buyer_email", String(200), nullable=True),
    Column("lot_id", String(100), nullable=True, index=True),
    Column("plate", String(32), nullable=True),
    Column("pretax_vnd", BigInteger, nullable=False),
    Column("vat_vnd", BigInteger, nullable=False),
    Column("total_vnd", BigInteger, nullable=False),
    Column("vat_rate", String(16), nullable=False),
    # The request the invoice was made from (outbox payload), kept to build corrections.
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    # The invoice as signed by the seller, byte for byte (whitespace is part of the signature).
    Column("xml", LargeBinary, nullable=False),
    # The invoice returned by the authority with its code and countersignature (authority mode).
    Column("authority_xml", LargeBinary, nullable=True),
    # The message (MTDiep) that carries the invoice to the authority; reused on every resend.
    Column("message_id", String(64), ForeignKey("einvoice_messages.message_id"), nullable=True),
    Column("submit_attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("template", "series", "year", "number", name="uq_einvoice_number"),
    Index("ix_einvoice_invoices_issue_date", "issue_date"),
)

# A passage of an account that takes one consolidated invoice a month: kept here, not invoiced
# on its own, until the month's invoice (einvoice.monthly) takes it. request_key is the passage's
# event id, unique: a passage waits once and goes on one invoice.
monthly_items = Table(
    "einvoice_monthly_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_key", String(200), nullable=False, unique=True),
    Column("account_id", String(100), nullable=False),
    Column("seller_tax_code", String(20), nullable=False),
    Column("period", String(7), nullable=False),  # YYYY-MM, the local month of the exit
    Column("total_vnd", BigInteger, nullable=False),
    Column("payload", JSON, nullable=False),  # the passage's invoice request
    Column("invoice_id", Integer, ForeignKey("einvoice_invoices.id"), nullable=True, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_einvoice_monthly_items_period", "period", "account_id"),
)

status_history = Table(
    "einvoice_status_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("invoice_id", Integer, ForeignKey("einvoice_invoices.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("message_id", String(64), nullable=True),
    # The authority's reasons on rejection ([{code, message}]), or other detail.
    Column("detail", JSON, nullable=True),
)

# One message (TDiep) sent to the authority; a resend posts the same bytes with the same id.
messages = Table(
    "einvoice_messages",
    metadata,
    Column("message_id", String(64), primary_key=True),
    Column("message_type", Integer, nullable=False),
    Column("request_xml", LargeBinary, nullable=False),
    Column("response_xml", LargeBinary, nullable=True),
    Column("state", String(16), nullable=False),  # pending | answered
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("answered_at", UtcDateTime(), nullable=True),
)

# Every HTTP attempt, for the record: when, how long, what came back.
submission_attempts = Table(
    "einvoice_submission_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "message_id",
        String(64),
        ForeignKey("einvoice_messages.message_id"),
        nullable=False,
        index=True,
    ),
    Column("attempt", Integer, nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("outcome", String(16), nullable=False),  # answered | http_error | network_error
    Column("error", Text, nullable=True),
)
