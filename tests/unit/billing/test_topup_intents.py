"""Money in: top-up intents credited by a provider's (verified) payment, operators' manual
credits, and the reconciliation that ties each top-up to a verified payment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.ledger import IdempotencyConflict, Line, Posting, topup_posting
from billing.domain.model import DomainError
from billing.domain.payments import CHECKOUT_TTL, OPERATOR_CREDITS, IntentStatus
from billing.services import (
    credit_topup,
    get_account,
    get_topup_intent,
    list_topup_intents,
    manual_credit,
    open_topup_intent,
    reconcile,
    set_account_status,
    top_up,
)
from billing.services.ledger import ensure_ledger_account, lock_account, post
from billing.services.reconcile_money import VerifiedPayment
from billing.services.seed import DemoData

from .conftest import T0


def balance(uow: UnitOfWork, account_id: int) -> int:
    acct = get_account(uow, account_id)
    assert acct is not None
    return acct.balance_vnd


def test_an_intent_is_credited_once_by_its_providers_payment(
    uow: UnitOfWork, demo: DemoData
) -> None:
    an = demo.accounts["an"]
    intent = open_topup_intent(uow, an, "vnpay-qr", 200_000)
    assert intent.status is IntentStatus.PENDING and intent.reference.startswith("NAP")
    assert len(intent.reference) == 19 and intent.expires_at - intent.created_at == CHECKOUT_TTL
    with pytest.raises(LookupError):  # another provider cannot pay this intent
        credit_topup(uow, "momo", intent.reference, "M-1", 200_000)
    with pytest.raises(DomainError, match="names account"):
        credit_topup(uow, "vnpay-qr", intent.reference, "V-1", 200_000, account_id=an + 1)
    done = credit_topup(uow, "vnpay-qr", intent.reference, "V-1", 200_000, account_id=an)
    assert done.topup.created and done.intent.status is IntentStatus.CREDITED
    again = credit_topup(uow, "vnpay-qr", intent.reference, "V-1", 200_000)  # a redelivery
    assert not again.topup.created and balance(uow, an) == 700_000
    assert [i.status for i in list_topup_intents(uow, an)] == [IntentStatus.CREDITED]


@pytest.mark.parametrize("amount", [0, 9_999, 10_000_001, 12.5, True])
def test_a_checkout_amount_must_be_within_the_limits(
    uow: UnitOfWork, demo: DemoData, amount: object
) -> None:
    with pytest.raises(DomainError, match="top-up"):
        open_topup_intent(uow, demo.accounts["an"], "momo", amount)  # type: ignore[arg-type]


def test_a_closed_account_gets_no_intent_and_an_unknown_one_neither(
    uow: UnitOfWork, demo: DemoData
) -> None:
    set_account_status(uow, demo.accounts["cuong"], "closed")
    with pytest.raises(DomainError, match="closed"):
        open_topup_intent(uow, demo.accounts["cuong"], "momo", 50_000)
    with pytest.raises(LookupError):
        open_topup_intent(uow, 999, "momo", 50_000)


def test_an_expired_intent_still_credits_a_late_payment(uow: UnitOfWork, demo: DemoData) -> None:
    later = UnitOfWork(
        uow.session_factory, clock=lambda: datetime.now(T0.tzinfo) + timedelta(hours=1)
    )
    intent = open_topup_intent(uow, demo.accounts["binh"], "bank-transfer", 100_000)
    view = get_topup_intent(later, intent.reference)
    assert view is not None and view.status is IntentStatus.EXPIRED
    # The driver transferred another sum than asked: what the bank received is credited.
    done = credit_topup(later, "bank-transfer", intent.reference, "VCB-9", 150_000)
    assert done.intent.status is IntentStatus.CREDITED and done.intent.credited_vnd == 150_000
    assert balance(uow, demo.accounts["binh"]) == 60_000 + 150_000


def test_a_manual_credit_is_its_own_audited_kind_and_credits_once(
    uow: UnitOfWork, demo: DemoData
) -> None:
    cuong = demo.accounts["cuong"]
    first = manual_credit(uow, cuong, 20_000, key="C-1", actor="op.lan", reason="barrier fault")
    again = manual_credit(uow, cuong, 20_000, key="C-1", actor="op.lan", reason="barrier fault")
    assert first.created and not again.created and balance(uow, cuong) == 30_000
    with pytest.raises(IdempotencyConflict):
        manual_credit(uow, cuong, 50_000, key="C-1", actor="op.lan", reason="other")
    for actor, reason in (("", "why"), ("op", " ")):
        with pytest.raises(DomainError):
            manual_credit(uow, cuong, 1_000, key="C-2", actor=actor, reason=reason)
    with uow:
        entry = uow.session.get(orm.JournalEntry, first.journal_entry_id)
        audit = uow.session.scalar(
            select(orm.ManualCredit).where(orm.ManualCredit.request_key == "C-1")
        )
    assert entry is not None and entry.kind == "credit"
    assert audit is not None and (audit.actor, audit.reason) == ("op.lan", "barrier fault")


@dataclass
class Deliveries:
    """The gateway's record of verified webhook deliveries, as reconciliation reads it."""

    payments: list[VerifiedPayment] = field(default_factory=list)

    def verified(
        self, keys: Sequence[tuple[str, str]]
    ) -> Mapping[tuple[str, str], VerifiedPayment]:
        return {
            (p.provider, p.provider_txn_id): p
            for p in self.payments
            if (p.provider, p.provider_txn_id) in set(keys)
        }

    def received(self, start: datetime, end: datetime) -> Sequence[VerifiedPayment]:
        return list(self.payments)


def _kinds(report: object) -> list[str]:
    return sorted(m.kind for m in report.mismatches)  # type: ignore[attr-defined]


def test_reconciliation_reports_a_top_up_written_behind_the_webhooks_back(
    uow: UnitOfWork, demo: DemoData
) -> None:
    an = demo.accounts["an"]
    today = datetime.now(T0.tzinfo).date()
    records = Deliveries()
    intent = open_topup_intent(uow, an, "momo", 300_000)
    credit_topup(uow, "momo", intent.reference, "MM-1", 300_000)
    records.payments.append(VerifiedPayment("momo", "MM-1", an, 300_000, credited=True))
    clean = reconcile(uow, today, payments=records)
    assert clean.ok and (clean.topups, clean.topups_vnd, clean.payments_checked) == (
        1,
        300_000,
        True,
    )
    assert (clean.credits, clean.credits_vnd) == (4, 5_570_000)  # the seed's opening balances

    top_up(uow, an, 30_000_000, "momo", "FORGED-1")  # no webhook ever said so
    report = reconcile(uow, today, payments=records)
    assert _kinds(report) == ["topup_unverified"]
    assert "30000000 VND" in report.mismatches[0].detail and not report.ok
    assert reconcile(uow, today).ok  # without the delivery records, it cannot know


def test_reconciliation_reports_money_entries_without_their_records(
    uow: UnitOfWork, demo: DemoData
) -> None:
    an = demo.accounts["an"]
    today = datetime.now(T0.tzinfo).date()
    with uow:  # a top-up entry and a credit entry posted without their rows
        acct = lock_account(uow.session, an)
        ensure_ledger_account(uow.session, "asset:clearing:x", "x")
        post(uow.session, topup_posting("topup:x:1", an, "x", 1_000), account=acct)
        post(
            uow.session,
            Posting(
                "credit:raw",
                "credit",
                (Line(OPERATOR_CREDITS, 500), Line(f"liability:prepaid:{an}", -500)),
            ),
            account=acct,
        )
        uow.commit()
    lost = VerifiedPayment("vnpay-qr", "VN-7", an, 90_000, credited=False)
    report = reconcile(uow, today, payments=Deliveries([lost]))
    assert _kinds(report) == [
        "credit_without_audit",
        "payment_not_credited",
        "topup_without_record",
    ]
