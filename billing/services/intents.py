"""Top-up intents: what a payment provider was asked for, and crediting it when the provider's
signed webhook says the money was taken.

The gateway verifies the webhook's signature and calls :func:`credit_topup`; nothing else
credits a driver's top-up. The intent is what ties the money to an account: a webhook names
the intent's reference, never an account of its own choosing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.model import AccountStatus, DomainError
from billing.domain.payments import (
    AUTO_TTL,
    CHECKOUT_TTL,
    IntentKind,
    IntentStatus,
    check_top_up_amount,
    intent_status,
    new_reference,
)
from billing.services.ledger import lock_account
from billing.services.topups import TopUpResult, record_top_up

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntentView:
    reference: str
    account_id: int
    provider: str
    amount_vnd: int
    kind: str
    status: IntentStatus
    created_at: datetime
    expires_at: datetime
    credited_at: datetime | None
    credited_vnd: int | None


@dataclass(frozen=True)
class CreditedTopUp:
    intent: IntentView
    topup: TopUpResult


def _view(row: orm.TopUpIntent, now: datetime) -> IntentView:
    return IntentView(
        reference=row.reference,
        account_id=row.account_id,
        provider=row.provider,
        amount_vnd=row.amount_vnd,
        kind=row.kind,
        status=intent_status(row.status, row.expires_at, now),
        created_at=row.created_at,
        expires_at=row.expires_at,
        credited_at=row.credited_at,
        credited_vnd=row.credited_vnd,
    )


def open_topup_intent(
    uow: UnitOfWork,
    account_id: int,
    provider: str,
    amount_vnd: int,
    *,
    kind: IntentKind = IntentKind.CHECKOUT,
    reference: str | None = None,
) -> IntentView:
    """Record what the provider is about to be asked for. A checkout amount must be within the
    limits; ``reference`` (an auto top-up's) makes the call idempotent."""
    with uow:
        row = ensure_intent(uow, account_id, provider, amount_vnd, kind, reference)
        view = _view(row, uow.clock())
        uow.commit()
        return view


def ensure_intent(
    uow: UnitOfWork,
    account_id: int,
    provider: str,
    amount_vnd: int,
    kind: IntentKind,
    reference: str | None,
) -> orm.TopUpIntent:
    """The intent, inside the caller's transaction: the one with ``reference`` if it exists
    (for the same payment), else a new one."""
    if kind is IntentKind.CHECKOUT:
        check_top_up_amount(amount_vnd)
    elif not isinstance(amount_vnd, int) or amount_vnd <= 0:
        raise DomainError("an auto top-up is a positive whole number of VND")
    if not provider or len(provider) > 40:
        raise DomainError("a top-up names its payment provider (1-40 characters)")
    s = uow.session
    if reference is not None:
        existing = s.scalar(select(orm.TopUpIntent).where(orm.TopUpIntent.reference == reference))
        if existing is not None:
            if (existing.account_id, existing.provider, existing.amount_vnd) != (
                account_id,
                provider,
                amount_vnd,
            ):
                raise DomainError(f"top-up intent {reference} was opened for another payment")
            return existing
    acct = s.get(orm.TransportAccount, account_id)
    if acct is None:
        raise LookupError(f"no transport account {account_id}")
    if acct.status == AccountStatus.CLOSED.value:
        raise DomainError(f"account {account_id} is closed", "account_closed")
    now = uow.clock()
    row = orm.TopUpIntent(
        reference=reference or new_reference(),
        account_id=account_id,
        provider=provider,
        amount_vnd=amount_vnd,
        kind=kind.value,
        status=IntentStatus.PENDING.value,
        created_at=now,
        expires_at=now + (CHECKOUT_TTL if kind is IntentKind.CHECKOUT else AUTO_TTL),
    )
    s.add(row)
    s.flush()
    return row


def get_topup_intent(uow: UnitOfWork, reference: str) -> IntentView | None:
    with uow:
        row = uow.session.scalar(
            select(orm.TopUpIntent).where(orm.TopUpIntent.reference == reference)
        )
        return _view(row, uow.clock()) if row is not None else None


def list_topup_intents(uow: UnitOfWork, account_id: int, limit: int = 20) -> list[IntentView]:
    """The account's latest intents, newest first."""
    with uow:
        now = uow.clock()
        rows = uow.session.scalars(
            select(orm.TopUpIntent)
            .where(orm.TopUpIntent.account_id == account_id)
            .order_by(orm.TopUpIntent.id.desc())
            .limit(limit)
        )
        return [_view(r, now) for r in rows]


def credit_topup(
    uow: UnitOfWork,
    provider: str,
    reference: str,
    provider_txn_id: str,
    amount_vnd: int,
    *,
    account_id: int | None = None,
) -> CreditedTopUp:
    """Credit what ``provider`` says it took for the intent ``reference`` (its webhook, its
    signature verified by the caller). Idempotent by (provider, transaction id).

    The amount credited is what the provider took, even if it differs from what was asked (a
    bank transfer of another sum): the money is the driver's either way. An expired intent is
    credited too: a payment that arrives late is still a payment.
    """
    if not isinstance(amount_vnd, int) or isinstance(amount_vnd, bool) or amount_vnd <= 0:
        raise DomainError("a payment is a positive whole number of VND")
    if not provider_txn_id:
        raise DomainError("a payment needs the provider's transaction id")
    with uow:
        s = uow.session
        intent = s.scalar(
            select(orm.TopUpIntent).where(orm.TopUpIntent.reference == reference).with_for_update()
        )
        if intent is None or intent.provider != provider:
            raise LookupError(f"no top-up intent {reference!r} with provider {provider!r}")
        if account_id is not None and account_id != intent.account_id:
            raise DomainError(
                f"payment {provider_txn_id} names account {account_id}, "
                f"its intent {reference} another one"
            )
        acct = lock_account(s, intent.account_id)
        result = record_top_up(
            uow,
            acct,
            amount_vnd,
            provider,
            provider_txn_id,
            auto=intent.kind == IntentKind.AUTO.value,
        )
        now = uow.clock()
        _mark_credited(intent, result, now, provider_txn_id, amount_vnd)
        view = _view(intent, now)
        uow.commit()
        return CreditedTopUp(view, result)


def _mark_credited(
    intent: orm.TopUpIntent,
    result: TopUpResult,
    now: datetime,
    provider_txn_id: str,
    amount_vnd: int,
) -> None:
    """Record the first payment on the intent; log a second payment or another sum."""
    if intent.status != IntentStatus.CREDITED.value:
        intent.status = IntentStatus.CREDITED.value
        intent.credited_at, intent.credited_vnd = now, amount_vnd
        intent.topup_id = result.topup_id
    elif result.created and intent.topup_id != result.topup_id:
        log.warning(
            "intent %s paid again (%s %s, %d VND): credited as well",
            intent.reference,
            intent.provider,
            provider_txn_id,
            amount_vnd,
        )
    if amount_vnd != intent.amount_vnd and result.created:
        log.warning(
            "intent %s asked %d VND, %s took %d: credited what was taken",
            intent.reference,
            intent.amount_vnd,
            intent.provider,
            amount_vnd,
        )


def fail_topup_intent(uow: UnitOfWork, provider: str, reference: str) -> IntentView:
    """Mark the intent failed because ``provider`` (its webhook, its signature verified by the
    caller) says the payment did not go through. A credited intent stays credited: money taken
    wins over a report that it was not. Idempotent."""
    with uow:
        s = uow.session
        intent = s.scalar(
            select(orm.TopUpIntent).where(orm.TopUpIntent.reference == reference).with_for_update()
        )
        if intent is None or intent.provider != provider:
            raise LookupError(f"no top-up intent {reference!r} with provider {provider!r}")
        if intent.status == IntentStatus.PENDING.value:
            intent.status = IntentStatus.FAILED.value
            log.info("top-up intent %s failed at %s", reference, provider)
        view = _view(intent, uow.clock())
        uow.commit()
        return view
