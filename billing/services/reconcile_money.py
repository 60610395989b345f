"""Reconciliation of money coming in: every top-up is a payment a provider's verified webhook
reported, and every manual credit carries who gave it and why.

A driver once credited 30,000,000 VND through a simulated-payment endpoint and reconciliation
still said "all consistent": it never asked where a top-up came from. Billing may not read the
gateway's record of verified webhook deliveries, so that record comes in through
:class:`PaymentRecords` (``gateway.payments.records`` implements it), asked after billing's own
transaction like the invoice lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork


@dataclass(frozen=True)
class VerifiedPayment:
    """A payment a provider reported in a webhook whose signature was verified."""

    provider: str
    provider_txn_id: str
    account_id: int | None
    amount_vnd: int
    credited: bool  # the delivery was answered with a credit


class PaymentRecords(Protocol):
    def verified(
        self, keys: Sequence[tuple[str, str]]
    ) -> Mapping[tuple[str, str], VerifiedPayment]:
        """The verified payments among (provider, transaction id) ``keys``."""
        ...

    def received(self, start: datetime, end: datetime) -> Sequence[VerifiedPayment]:
        """Verified payments whose webhook arrived in [start, end)."""
        ...


@dataclass(frozen=True)
class TopUpRow:
    id: int
    account_id: int
    provider: str
    provider_txn_id: str
    amount_vnd: int


@dataclass(frozen=True)
class MoneyIn:
    """The day's top-ups and manual credits, read in billing's transaction."""

    topups: tuple[TopUpRow, ...]
    credits: int
    credits_vnd: int


Miss = Callable[[str, object, str], None]


def money_in(s: Session, start: datetime, end: datetime, miss: Miss) -> MoneyIn:
    """The day's top-ups and credits; reports journal entries of either kind without the row
    that says where the money came from."""
    topups = tuple(
        TopUpRow(t.id, t.account_id, t.provider, t.provider_txn_id, t.amount_vnd)
        for t in s.scalars(
            select(orm.TopUp).where(orm.TopUp.created_at >= start, orm.TopUp.created_at < end)
        )
    )
    unrecorded = s.execute(
        select(orm.JournalEntry.id, orm.JournalEntry.account_id)
        .outerjoin(orm.TopUp, orm.TopUp.journal_entry_id == orm.JournalEntry.id)
        .where(
            orm.JournalEntry.kind == "topup",
            orm.JournalEntry.created_at >= start,
            orm.JournalEntry.created_at < end,
            orm.TopUp.id.is_(None),
        )
    )
    for entry_id, account_id in unrecorded:
        miss(
            "topup_without_record",
            entry_id,
            f"top-up entry to account {account_id} is no provider's transaction",
        )
    credits = s.execute(
        select(orm.JournalEntry.id, orm.JournalEntry.account_id, orm.ManualCredit.id)
        .outerjoin(orm.ManualCredit, orm.ManualCredit.journal_entry_id == orm.JournalEntry.id)
        .where(
            orm.JournalEntry.kind == "credit",
            orm.JournalEntry.created_at >= start,
            orm.JournalEntry.created_at < end,
        )
    ).all()
    for entry_id, account_id, audit_id in credits:
        if audit_id is None:
            miss(
                "credit_without_audit",
                entry_id,
                f"credit to account {account_id} without the operator's name and reason",
            )
    amounts = dict(
        s.execute(
            select(orm.ManualCredit.journal_entry_id, orm.ManualCredit.amount_vnd).where(
                orm.ManualCredit.journal_entry_id.in_([c[0] for c in credits] or [0])
            )
        ).all()
    )
    return MoneyIn(topups, len(credits), int(sum(amounts.values())))


def payment_mismatches(
    uow: UnitOfWork,
    day: MoneyIn,
    records: PaymentRecords,
    start: datetime,
    end: datetime,
    miss: Miss,
) -> None:
    """Each top-up against the verified webhook deliveries, and each verified payment of the
    day against billing's top-ups (money taken from a driver and never credited). Called
    outside billing's transaction; the last check opens a short one of its own."""
    found = records.verified([(t.provider, t.provider_txn_id) for t in day.topups])
    for t in day.topups:
        paid = found.get((t.provider, t.provider_txn_id))
        if paid is None:
            miss(
                "topup_unverified",
                t.id,
                f"top-up of {t.amount_vnd} VND to account {t.account_id} via {t.provider} "
                f"({t.provider_txn_id}) has no verified webhook delivery",
            )
        elif paid.amount_vnd != t.amount_vnd or paid.account_id not in (None, t.account_id):
            miss(
                "topup_amount",
                t.id,
                f"credited {t.amount_vnd} VND to account {t.account_id}; the provider's "
                f"webhook said {paid.amount_vnd} VND for account {paid.account_id}",
            )
    received = list(records.received(start, end))
    with uow:
        txns = [p.provider_txn_id for p in received] or [""]
        known = set(
            uow.session.execute(
                select(orm.TopUp.provider, orm.TopUp.provider_txn_id).where(
                    orm.TopUp.provider_txn_id.in_(txns)
                )
            ).all()
        )
    for paid in received:
        if (paid.provider, paid.provider_txn_id) not in known:
            miss(
                "payment_not_credited",
                f"{paid.provider}:{paid.provider_txn_id}",
                f"{paid.provider} took {paid.amount_vnd} VND "
                f"(account {paid.account_id}) and no top-up credits it",
            )
