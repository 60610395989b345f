"""Money in and back out: top-ups (idempotent by provider transaction) and refunds.

Auto top-ups are recorded here too (``record_top_up``); the worker that asks the provider for
them is ``billing.services.autotopup``."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.adapters import orm, outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.events import InvoiceAdjustmentRequested
from billing.domain.ledger import (
    IdempotencyConflict,
    Line,
    Posting,
    clearing_account,
    reversal,
    topup_posting,
)
from billing.domain.model import AccountStatus, DomainError
from billing.services.ledger import ensure_ledger_account, entry_lines, lock_account, post
from billing.services.rows import AccountLike

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopUpResult:
    topup_id: int
    journal_entry_id: int
    balance_vnd: int
    created: bool  # False: this provider transaction was recorded before


def top_up(
    uow: UnitOfWork, account_id: int, amount_vnd: int, provider: str, provider_txn_id: str
) -> TopUpResult:
    """Credit a transport account once per (provider, provider transaction id)."""
    if not isinstance(amount_vnd, int) or amount_vnd <= 0:
        raise DomainError("top-up amount must be a positive integer VND")
    if not provider_txn_id:
        raise DomainError("a top-up needs the provider's transaction id")
    with uow:
        acct = lock_account(uow.session, account_id)
        result = record_top_up(uow, acct, amount_vnd, provider, provider_txn_id, auto=False)
        uow.commit()
        return result


def record_top_up(
    uow: UnitOfWork,
    acct: AccountLike,
    amount_vnd: int,
    provider: str,
    provider_txn_id: str,
    *,
    auto: bool,
) -> TopUpResult:
    """Inside the caller's transaction, with ``acct`` locked."""
    s = uow.session
    existing = s.scalar(
        select(orm.TopUp).where(
            orm.TopUp.provider == provider, orm.TopUp.provider_txn_id == provider_txn_id
        )
    )
    if existing is not None:
        if existing.account_id != acct.id or existing.amount_vnd != amount_vnd:
            raise DomainError(
                f"{provider} transaction {provider_txn_id} was recorded before for "
                f"{existing.amount_vnd} VND on account {existing.account_id}"
            )
        return TopUpResult(existing.id, existing.journal_entry_id, acct.balance_vnd, False)
    if acct.status == AccountStatus.CLOSED.value:
        raise DomainError(f"account {acct.id} is closed", "account_closed")
    ensure_ledger_account(s, clearing_account(provider), f"Top-up clearing: {provider}")
    posted = post(
        s,
        topup_posting(
            f"topup:{provider}:{provider_txn_id}",
            acct.id,
            provider,
            amount_vnd,
            f"top-up via {provider}",
        ),
        account=acct,
    )
    row = orm.TopUp(
        account_id=acct.id,
        provider=provider,
        provider_txn_id=provider_txn_id,
        amount_vnd=amount_vnd,
        auto=auto,
        journal_entry_id=posted.entry_id,
    )
    s.add(row)
    s.flush()
    return TopUpResult(row.id, posted.entry_id, acct.balance_vnd, True)


@dataclass(frozen=True)
class RefundResult:
    journal_entry_id: int
    amount_vnd: int
    balance_vnd: int
    created: bool


MAX_REQUEST_KEY = 100


def refund(
    uow: UnitOfWork,
    journal_entry_id: int,
    *,
    key: str,
    reason: str,
    actor: str,
    amount_vnd: int | None = None,
) -> RefundResult:
    """Give back a fare (or part of it) with a reversing entry; the original is never edited.

    ``key`` is the caller's id of this refund request (the API's or the CLI's request id): a
    retried request returns the first refund, while two requests are two refunds even when
    they name the same amount. Nothing derived from the entry and amount could tell those two
    cases apart. ``amount_vnd`` None refunds what is left.
    """
    entry_key = _refund_entry_key(key)
    with uow:
        s = uow.session
        original = _refundable_entry(s, journal_entry_id)
        acct = lock_account(s, original.account_id)
        replay = _replayed_refund(s, entry_key, original, amount_vnd, acct.balance_vnd)
        if replay is not None:
            return replay
        posting, amount = _refund_posting(s, original, entry_key, amount_vnd, f"refund: {reason}")
        posted = post(
            s,
            posting,
            account=acct,
            lot_id=original.lot_id,
            event_id=original.event_id,
            reverses_entry_id=original.id,
        )
        if posted.created:
            outbox.add(
                s,
                InvoiceAdjustmentRequested(
                    original_event_id=original.event_id,
                    journal_entry_id=posted.entry_id,
                    reason=reason,
                    amount_vnd=amount,
                    original_journal_entry_id=original.id,
                    account_id=acct.id,
                    lot_id=original.lot_id,
                    actor=actor,
                    request_key=entry_key,
                ),
            )
        uow.commit()
        return RefundResult(posted.entry_id, amount, acct.balance_vnd, posted.created)


def _refund_entry_key(key: str) -> str:
    """The journal's idempotency key of a refund request, after checking the caller's id."""
    key = (key or "").strip()
    if not key or len(key) > MAX_REQUEST_KEY:
        raise DomainError(f"a refund needs its request id (1-{MAX_REQUEST_KEY} characters)")
    return f"refund:{key}"


class _RefundableEntry(Protocol):
    id: int
    kind: str
    account_id: int
    event_id: str
    lot_id: str | None


def _refundable_entry(s: Session, journal_entry_id: int) -> _RefundableEntry:
    """The fare or pass entry to refund, with the account and event a refund needs."""
    original = s.get(orm.JournalEntry, journal_entry_id)
    if original is None or original.kind not in ("fare", "pass"):
        raise DomainError(f"journal entry {journal_entry_id} is not a fare or pass to refund")
    if original.account_id is None or original.event_id is None:
        raise DomainError("entry has no transport account or no event to invoice against")
    return cast(_RefundableEntry, original)


def _prepaid_out(lines: Iterable[Line]) -> int:
    """What ``lines`` gave back to the driver's prepaid account (positive for a refund)."""
    return -sum(ln.amount_vnd for ln in lines if ln.ledger_account.startswith("liability:prepaid:"))


def _replayed_refund(
    s: Session,
    entry_key: str,
    original: _RefundableEntry,
    amount_vnd: int | None,
    balance_vnd: int,
) -> RefundResult | None:
    """The first refund of a retried request; an error when the request id meant another one."""
    prior = s.scalar(select(orm.JournalEntry).where(orm.JournalEntry.idempotency_key == entry_key))
    if prior is None:
        return None
    prior_amount = _prepaid_out(entry_lines(s, prior.id))
    if prior.reverses_entry_id != original.id or amount_vnd not in (None, prior_amount):
        log.error(
            "refund request %s reused (entry %s, %s VND); it refunded entry %s, %s VND",
            entry_key.removeprefix("refund:"),
            original.id,
            amount_vnd,
            prior.reverses_entry_id,
            prior_amount,
        )
        raise IdempotencyConflict(
            f"refund request {entry_key.removeprefix('refund:')!r} was used for another refund"
        )
    return RefundResult(prior.id, prior_amount, balance_vnd, False)


def _refund_posting(
    s: Session,
    original: _RefundableEntry,
    entry_key: str,
    amount_vnd: int | None,
    description: str,
) -> tuple[Posting, int]:
    """The reversing posting for this request and the VND it gives back."""
    lines = entry_lines(s, original.id)
    total = sum(ln.amount_vnd for ln in lines if ln.amount_vnd > 0)
    earlier = [
        entry_lines(s, eid)
        for eid in s.scalars(
            select(orm.JournalEntry.id)
            .where(orm.JournalEntry.reverses_entry_id == original.id)
            .order_by(orm.JournalEntry.id)
        )
    ]
    already = sum(_prepaid_out(refund_lines) for refund_lines in earlier)
    amount = total - already if amount_vnd is None else amount_vnd
    if amount <= 0 or already + amount > total:
        raise DomainError(
            f"refunds would exceed the original {total} VND ({already} refunded already)"
        )
    if already and already + amount == total:
        return remainder_posting(entry_key, lines, earlier, description), amount
    return reversal(entry_key, lines, amount, total, description), amount


def remainder_posting(
    key: str,
    original: Iterable[Line],
    earlier_refunds: Iterable[Iterable[Line]],
    description: str,
) -> Posting:
    """The last part of a refund: exactly what is left on every account of the original.

    Rounding in earlier partial refunds so never leaves a dong of revenue or VAT behind.
    """
    left: dict[str, int] = defaultdict(int)
    for ln in original:
        left[ln.ledger_account] += ln.amount_vnd
    for refund_lines in earlier_refunds:
        for ln in refund_lines:
            left[ln.ledger_account] += ln.amount_vnd
    return Posting(
        key, "refund", tuple(Line(code, -v) for code, v in left.items() if v), description
    )


__all__ = [
    "Line",
    "Posting",
    "TopUpResult",
    "record_top_up",
    "refund",
    "remainder_posting",
    "top_up",
]
