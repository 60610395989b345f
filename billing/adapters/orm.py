"""Billing's tables (SQLAlchemy 2, typed). The schema changes only through billing's migrations.

Money columns are BigInteger VND. Times are stored as UTC and always come back timezone-aware,
on SQLite too (see :class:`UtcDateTime`). The ``outbox`` table is the one other packages read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from billing.sqltypes import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = metadata


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for statements that need none of the ORM."""
    return cast(Table, model.__table__)


class Operator(Base):
    """The seller on invoices: the company running one or more lots."""

    __tablename__ = "billing_operators"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tax_code: Mapped[str] = mapped_column(String(14))
    address: Mapped[str] = mapped_column(String(300))
    invoice_template: Mapped[str] = mapped_column(String(20))
    invoice_series: Mapped[str] = mapped_column(String(20))
    invoice_mode: Mapped[str] = mapped_column(String(20))
    cash_register_code: Mapped[str | None] = mapped_column(String(40))


class Lot(Base):
    __tablename__ = "billing_lots"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    operator_id: Mapped[str] = mapped_column(ForeignKey("billing_operators.id"))
    tariff_id: Mapped[str] = mapped_column(String(40))
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Gate(Base):
    __tablename__ = "billing_gates"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("billing_lots.id"), index=True)
    direction: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(10), default="unknown")
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class TransportAccount(Base):
    __tablename__ = "billing_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))  # person | business
    name: Mapped[str] = mapped_column(String(200))
    tax_code: Mapped[str | None] = mapped_column(String(14))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="active")
    # Cached from the journal in the same transaction as every posting; check_balances() proves it.
    balance_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    auto_topup_threshold_vnd: Mapped[int | None] = mapped_column(BigInteger)
    auto_topup_amount_vnd: Mapped[int | None] = mapped_column(BigInteger)
    auto_topup_provider: Mapped[str | None] = mapped_column(String(40))
    low_balance_notice_vnd: Mapped[int] = mapped_column(BigInteger, default=50_000)
    # A company's invoices are emailed here; monthly: one consolidated invoice per month.
    invoice_email: Mapped[str | None] = mapped_column(String(200))
    invoice_monthly: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Vehicle(Base):
    __tablename__ = "billing_vehicles"
    __table_args__ = (
        # A plate belongs to at most one active account.
        Index(
            "uq_billing_vehicles_active_key",
            "plate_key",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    plate_text: Mapped[str] = mapped_column(String(20))
    plate_key: Mapped[str] = mapped_column(String(16), index=True)
    vehicle_class: Mapped[str] = mapped_column(String(20))
    plate_colour: Mapped[str] = mapped_column(String(10), default="white")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class MonthlyPass(Base):
    __tablename__ = "billing_passes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("billing_vehicles.id"), index=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("billing_lots.id"))
    kind: Mapped[str] = mapped_column(String(10))  # day | day_night
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    price_vnd: Mapped[int] = mapped_column(BigInteger)
    journal_entry_id: Mapped[int | None] = mapped_column(ForeignKey("billing_journal_entries.id"))


class ParkingSession(Base):
    __tablename__ = "billing_sessions"
    __table_args__ = (
        # One open session per plate and lot: concurrent entries cannot both open one.
        Index(
            "uq_billing_sessions_open",
            "lot_id",
            "plate_key",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_billing_sessions_lot_exit", "lot_id", "exit_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("billing_lots.id"))
    plate_text: Mapped[str] = mapped_column(String(20))
    plate_key: Mapped[str] = mapped_column(String(16))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("billing_vehicles.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    vehicle_class: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | closed | void
    entry_at: Mapped[datetime] = mapped_column(UtcDateTime())
    exit_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    entry_passage_id: Mapped[int | None] = mapped_column(Integer)
    exit_passage_id: Mapped[int | None] = mapped_column(Integer)
    fare_vnd: Mapped[int | None] = mapped_column(BigInteger)
    fare_lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    tariff_version: Mapped[str | None] = mapped_column(String(60))
    # charged | free | pending (review) | waived; unpaid: still open, the car was kept at the
    # exit barrier (low balance, suspended account) and its exit passage waits in review
    payment: Mapped[str | None] = mapped_column(String(10))
    journal_entry_id: Mapped[int | None] = mapped_column(Integer)
    # an unsure entry read: the plate keys it could be (the exit matches against them)
    entry_hypotheses: Mapped[list[str] | None] = mapped_column(JSON)


class Passage(Base):
    __tablename__ = "billing_passages"
    __table_args__ = (
        Index("ix_billing_passages_dup", "gate_id", "plate_key", "captured_at"),
        Index("ix_billing_passages_lot_time", "lot_id", "captured_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(80), unique=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("billing_lots.id"))
    gate_id: Mapped[str] = mapped_column(ForeignKey("billing_gates.id"))
    direction: Mapped[str] = mapped_column(String(10))
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime())
    plate_read: Mapped[str | None] = mapped_column(String(40))  # as the reader gave it
    plate_text: Mapped[str | None] = mapped_column(String(20))  # canonical, after corrections
    plate_key: Mapped[str | None] = mapped_column(String(16))
    plate_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    image_ref: Mapped[str | None] = mapped_column(String(300))
    vehicle_id: Mapped[int | None] = mapped_column(Integer)
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    session_id: Mapped[int | None] = mapped_column(Integer)
    opened: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(30), default="")
    fare_vnd: Mapped[int | None] = mapped_column(BigInteger)
    review_status: Mapped[str | None] = mapped_column(String(10), index=True)  # pending|resolved
    decision: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # closed-world matching: hypotheses, posteriors, matched session, runner-up (or None)
    match_evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class LotListEntry(Base):
    """A plate on one of a lot's lists (blacklist, whitelist, VIP: billing.domain.lists); a
    plate is on at most one list per lot."""

    __tablename__ = "billing_lot_lists"
    __table_args__ = (UniqueConstraint("lot_id", "plate_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("billing_lots.id"))
    kind: Mapped[str] = mapped_column(String(10))
    plate_text: Mapped[str] = mapped_column(String(20))
    plate_key: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(200), default="")
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ReviewAction(Base):
    """Audit trail of the review queue: who did what to which passage, and when."""

    __tablename__ = "billing_review_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    passage_id: Mapped[int] = mapped_column(ForeignKey("billing_passages.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # correct_plate | charge | waive
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LedgerAccount(Base):
    """The chart of accounts: ``liability:prepaid:<id>``, ``revenue:lot:<lot>``, ..."""

    __tablename__ = "billing_ledger_accounts"
    code: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # asset | liability | revenue
    name: Mapped[str] = mapped_column(String(200))


class JournalEntry(Base):
    """Immutable: never updated or deleted; a refund is a new, reversing entry."""

    __tablename__ = "billing_journal_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(12))
    description: Mapped[str] = mapped_column(Text, default="")
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    lot_id: Mapped[str | None] = mapped_column(String(40))
    event_id: Mapped[str | None] = mapped_column(String(80))
    reverses_entry_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class JournalLine(Base):
    __tablename__ = "billing_journal_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("billing_journal_entries.id"), index=True)
    ledger_account: Mapped[str] = mapped_column(
        ForeignKey("billing_ledger_accounts.code"), index=True
    )
    amount_vnd: Mapped[int] = mapped_column(BigInteger)  # + debit, - credit


class TopUp(Base):
    __tablename__ = "billing_topups"
    __table_args__ = (UniqueConstraint("provider", "provider_txn_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    provider: Mapped[str] = mapped_column(String(40))
    provider_txn_id: Mapped[str] = mapped_column(String(120))
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    auto: Mapped[bool] = mapped_column(Boolean, default=False)
    journal_entry_id: Mapped[int] = mapped_column(ForeignKey("billing_journal_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class TopUpIntent(Base):
    """A top-up asked of a payment provider: pending until the provider's signed webhook names
    its reference, then credited (billing.domain.payments)."""

    __tablename__ = "billing_topup_intents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(120), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    provider: Mapped[str] = mapped_column(String(40))
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10))  # checkout | auto
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | credited
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    credited_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    credited_vnd: Mapped[int | None] = mapped_column(BigInteger)
    topup_id: Mapped[int | None] = mapped_column(ForeignKey("billing_topups.id"))


class ManualCredit(Base):
    """An operator's credit to an account (journal kind ``credit``): who, why, which request."""

    __tablename__ = "billing_manual_credits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_key: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    journal_entry_id: Mapped[int] = mapped_column(ForeignKey("billing_journal_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class OfflineDecision(Base):
    """A passage the lot's edge decided alone (``decided_offline``), next to billing's own
    decision: what reconciliation lists as the lot's offline exposure per day."""

    __tablename__ = "billing_offline_decisions"
    __table_args__ = (Index("ix_billing_offline_decisions_lot_day", "lot_id", "local_day"),)
    event_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    passage_id: Mapped[int] = mapped_column(ForeignKey("billing_passages.id"))
    lot_id: Mapped[str] = mapped_column(String(40))
    gate_id: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(10))
    local_day: Mapped[date] = mapped_column(Date)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime())
    edge_opened: Mapped[bool] = mapped_column(Boolean)
    edge_reason: Mapped[str] = mapped_column(String(30))
    credit_vnd: Mapped[int] = mapped_column(BigInteger)  # offline credit the edge counted on
    edge_fare_vnd: Mapped[int] = mapped_column(BigInteger)  # deducted locally (max fare)
    allowlist_version: Mapped[int | None] = mapped_column(BigInteger)
    opened: Mapped[bool] = mapped_column(Boolean)  # billing's decision (honours the edge's)
    reason: Mapped[str] = mapped_column(String(30))
    fare_vnd: Mapped[int | None] = mapped_column(BigInteger)
    exposure_vnd: Mapped[int] = mapped_column(BigInteger)  # not covered by the balance
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class OutboxRow(Base):
    """Work that follows a commit (barrier command, invoice request): see docs/contracts.md."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        Index("ix_outbox_pending", "kind", "processed_at", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
