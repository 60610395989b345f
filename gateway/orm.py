"""The gateway's own tables: people who sign in, what they may see, and what they did.

Billing owns accounts and lots; a user row only points at them by id (no cross-package foreign
keys), so each package's migration branch can move on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from billing.adapters.orm import UtcDateTime  # aware UTC datetimes on SQLite too

ROLES = ("driver", "operator", "admin")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = metadata


class User(Base):
    __tablename__ = "gw_users"
    __table_args__ = (CheckConstraint("role IN ('driver', 'operator', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    # A driver's transport account in billing (its id as text: billing owns the type).
    account_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)
    # A driver's phone in E.164 ("+84912345678"), which signs them in; which channels they
    # want notices on (the addresses are the account's, in billing) and in which language.
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True, unique=True)
    notify_sms: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    notify_email: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    lang: Mapped[str] = mapped_column(String(2), nullable=False, default="vi")


class OperatorGrant(Base):
    """One lot, or every lot of one operator company, that an operator may see and act on."""

    __tablename__ = "gw_operator_grants"
    __table_args__ = (
        UniqueConstraint("user_id", "lot_id", "company", name="uq_gw_operator_grants_scope"),
        CheckConstraint("lot_id IS NOT NULL OR company IS NOT NULL", name="scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("gw_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    lot_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    company: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)


class AuditEntry(Base):
    """Append-only record of what a person did (review actions, grants, sign-ins)."""

    __tablename__ = "gw_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now, index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("gw_users.id", ondelete="SET NULL"), nullable=True
    )
    username: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target_kind: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    target_id: Mapped[str] = mapped_column(String(64), nullable=False, default="", index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class WebhookDelivery(Base):
    """A payment-provider webhook whose signature was verified: the idempotency key, the payment
    it reported, and what we answered (``status_code`` None while it is being credited).

    Reconciliation reads it (``gateway.payments.records``) to tie every top-up in billing's
    ledger to a payment a provider reported, so it is written before billing credits anything.
    """

    __tablename__ = "gw_webhook_deliveries"
    __table_args__ = (Index("ix_gw_webhook_deliveries_payment", "provider", "provider_txn_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    body_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now, index=True)
    provider: Mapped[str | None] = mapped_column(String(40), nullable=True)
    provider_txn_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    reference: Mapped[str | None] = mapped_column(String(120), nullable=True)
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    amount_vnd: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Notice(Base):
    """Something a driver is told (low balance, a receipt, a code): one row per event, the key
    making it idempotent; the portal's inbox lists them. Text comes from the message catalogue
    (``code`` + ``params``), in ``lang``, when it is shown or sent."""

    __tablename__ = "gw_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    account_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    lang: Mapped[str] = mapped_column(String(2), nullable=False, default="vi")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class NoticeDelivery(Base):
    """One notice on one channel to one address: sent at most once by us (a lease while it is
    being sent), retried with backoff until it goes or ``status`` is ``failed``."""

    __tablename__ = "gw_notice_deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "channel", "recipient", name="uq_gw_notice_deliveries_to"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("gw_notices.id", ondelete="CASCADE"), nullable=False, index=True
    )
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    recipient: Mapped[str] = mapped_column(String(254), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now, index=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Verification(Base):
    """A code sent to a phone to prove it (sign-up, password reset). Only its hash is kept;
    ``payload`` holds what the sign-up form said until the code is confirmed."""

    __tablename__ = "gw_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # what the person's browser carries between the steps (random, unguessable)
    token: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    phone: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Alert(Base):
    """One operator alert (gateway.alerts): opened when its condition appears, kept open (one
    per ``key``) while it lasts, cleared when it is gone; a new occurrence is a new row."""

    __tablename__ = "gw_alerts"
    __table_args__ = (Index("ix_gw_alerts_key_open", "key", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    lot_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class AlertDelivery(Base):
    """An alert's opening or clearing sent on one channel (email, webhook) to one address;
    retried with backoff until it goes or ``status`` is ``failed``."""

    __tablename__ = "gw_alert_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "alert_id", "event", "channel", "recipient", name="uq_gw_alert_deliveries_to"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("gw_alerts.id"), nullable=False, index=True)
    event: Mapped[str] = mapped_column(String(10), nullable=False)  # opened | cleared
    channel: Mapped[str] = mapped_column(String(10), nullable=False)  # email | webhook
    recipient: Mapped[str] = mapped_column(String(300), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
