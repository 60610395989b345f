"""The ledger: balanced immutable entries, idempotency keys, top-ups, refunds, balance checks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.ledger import (
    IdempotencyConflict,
    Line,
    Posting,
    check_balanced,
    fare_posting,
    reversal,
)
from billing.domain.model import DomainError
from billing.services import account_statement, get_account, refund, top_up
from billing.services.ledger import check_balances, lock_account, post, trial_balance
from billing.services.seed import DemoData
from billing.services.topups import remainder_posting

from .conftest import Lane

CAR = "30A-123.45"


def test_postings_must_balance_and_use_integers() -> None:
    with pytest.raises(DomainError, match="unbalanced"):
        check_balanced([Line("a", 10), Line("b", -9)])
    with pytest.raises(DomainError, match="integer"):
        check_balanced([Line("a", 10.0), Line("b", -10)])  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="two lines"):
        check_balanced([Line("a", 0)])
    with pytest.raises(DomainError, match="key"):
        Posting("", "fare", (Line("a", 1), Line("b", -1)))


def test_fingerprint_ignores_description_and_line_order() -> None:
    a = fare_posting("k", 1, "lot", 25_000, 2_273, "one text")
    b = Posting("k", "fare", tuple(reversed(a.lines)), "another text")
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != fare_posting("k", 1, "lot", 30_000, 2_727).fingerprint


def test_partial_reversal_refunds_exactly_and_stays_balanced() -> None:
    original = fare_posting("k", 7, "lot", 25_000, 2_273).lines
    r = reversal("r", original, 10_001, 25_000)
    assert sum(ln.amount_vnd for ln in r.lines) == 0
    assert (
        dict((ln.ledger_account, ln.amount_vnd) for ln in r.lines)["liability:prepaid:7"] == -10_001
    )
    with pytest.raises(DomainError):
        reversal("r", original, 30_000, 25_000)


def test_remainder_after_partial_refunds_leaves_nothing_on_any_account() -> None:
    original = fare_posting("k", 7, "lot", 25_000, 2_273).lines
    first = reversal("r1", original, 10_001, 25_000).lines
    second = reversal("r2", original, 7_777, 25_000).lines
    last = remainder_posting("r3", original, [first, second], "refund: rest")
    assert last.kind == "refund"
    assert sum(ln.amount_vnd for ln in last.lines) == 0
    totals: dict[str, int] = {}
    for ln in (*original, *first, *second, *last.lines):
        totals[ln.ledger_account] = totals.get(ln.ledger_account, 0) + ln.amount_vnd
    assert set(totals.values()) == {0}
    assert dict((ln.ledger_account, ln.amount_vnd) for ln in last.lines)[
        "liability:prepaid:7"
    ] == -(25_000 - 10_001 - 7_777)


def test_same_key_same_content_returns_first_entry_other_content_is_an_error(
    uow: UnitOfWork, demo: DemoData
) -> None:
    acct_id = demo.accounts["an"]
    with uow:
        acct = lock_account(uow.session, acct_id)
        first = post(
            uow.session,
            fare_posting("exit:e-1", acct_id, "hn-hoankiem-01", 25_000, 2_273),
            account=acct,
        )
        again = post(
            uow.session,
            fare_posting("exit:e-1", acct_id, "hn-hoankiem-01", 25_000, 2_273, "retry"),
            account=acct,
        )
        assert first.created and not again.created and again.entry_id == first.entry_id
        with pytest.raises(IdempotencyConflict, match="exit:e-1"):
            post(
                uow.session,
                fare_posting("exit:e-1", acct_id, "hn-hoankiem-01", 30_000, 2_727),
                account=acct,
            )
        uow.commit()
    acct_view = get_account(uow, acct_id)
    assert acct_view is not None and acct_view.balance_vnd == 475_000


def test_prepaid_postings_need_the_locked_account(uow: UnitOfWork, demo: DemoData) -> None:
    with uow, pytest.raises(DomainError, match="locked row"):
        post(uow.session, fare_posting("x", demo.accounts["an"], "hn-hoankiem-01", 1_000, 91))


def test_top_up_is_idempotent_by_provider_transaction(uow: UnitOfWork, demo: DemoData) -> None:
    acct = demo.accounts["cuong"]
    r1 = top_up(uow, acct, 200_000, "vietcombank", "VCB-778899")
    r2 = top_up(uow, acct, 200_000, "vietcombank", "VCB-778899")
    assert r1.created and not r2.created and r1.journal_entry_id == r2.journal_entry_id
    assert r2.balance_vnd == 210_000
    with pytest.raises(DomainError, match="recorded before"):
        top_up(uow, acct, 300_000, "vietcombank", "VCB-778899")
    with pytest.raises(DomainError, match="positive"):
        top_up(uow, acct, 0, "vietcombank", "VCB-1")
    with pytest.raises(DomainError, match="positive"):
        top_up(uow, acct, 10.5, "vietcombank", "VCB-2")  # type: ignore[arg-type]
    top_up(uow, acct, 50_000, "momo", "VCB-778899")  # another provider: another transaction
    assert trial_balance_of(uow)["asset:clearing:vietcombank"] == 200_000


def trial_balance_of(uow: UnitOfWork) -> dict[str, int]:
    with uow:
        return trial_balance(uow.session)


def test_refund_is_a_reversing_entry(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    lane.enter(CAR)
    out = lane.leave(CAR, 61)  # 50,000
    assert out.balance_vnd is not None
    with uow:
        fare_entry = uow.session.scalar(
            select(orm.JournalEntry).where(orm.JournalEntry.kind == "fare")
        )
    assert fare_entry is not None
    part = refund(
        uow, fare_entry.id, key="req-1", reason="barrier fault", actor="op", amount_vnd=10_000
    )
    assert part.created and part.balance_vnd == out.balance_vnd + 10_000
    again = refund(uow, fare_entry.id, key="req-1", reason="retry", actor="op", amount_vnd=10_000)
    assert not again.created and again.journal_entry_id == part.journal_entry_id
    assert again.balance_vnd == part.balance_vnd
    # Another request for the same amount is another refund, not a retry of the first.
    other = refund(
        uow, fare_entry.id, key="req-2", reason="second fault", actor="op", amount_vnd=10_000
    )
    assert other.created and other.journal_entry_id != part.journal_entry_id
    assert other.balance_vnd == out.balance_vnd + 20_000
    with pytest.raises(IdempotencyConflict, match="req-2"):
        refund(uow, fare_entry.id, key="req-2", reason="x", actor="op", amount_vnd=5_000)
    with pytest.raises(DomainError, match="exceed"):
        refund(uow, fare_entry.id, key="req-3", reason="too much", actor="op", amount_vnd=40_000)
    with pytest.raises(DomainError, match="request id"):
        refund(uow, fare_entry.id, key=" ", reason="no id", actor="op", amount_vnd=1_000)
    rest = refund(uow, fare_entry.id, key="req-4", reason="rest", actor="op")  # what is left
    assert (rest.amount_vnd, rest.balance_vnd) == (30_000, 500_000)
    rest_again = refund(uow, fare_entry.id, key="req-4", reason="rest", actor="op")
    assert not rest_again.created and rest_again.amount_vnd == 30_000
    with uow:
        original = uow.session.get(orm.JournalEntry, fare_entry.id)
        adjustments = list(
            uow.session.scalars(
                select(orm.OutboxRow)
                .where(orm.OutboxRow.kind == "invoice_adjustment")
                .order_by(orm.OutboxRow.id)
            )
        )
    assert original is not None and original.fingerprint == fare_entry.fingerprint  # untouched
    assert [a.payload["amount_vnd"] for a in adjustments] == [10_000, 10_000, 30_000]
    assert [a.key for a in adjustments] == ["refund:req-1", "refund:req-2", "refund:req-4"]
    assert adjustments[0].payload["original_event_id"] == fare_entry.event_id
    tb = trial_balance_of(uow)
    assert sum(tb.values()) == 0 and tb["liability:vat_payable"] == 0
    with uow:
        assert check_balances(uow.session) == []


def test_statement_shows_every_movement_with_running_balance(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    lane.enter(CAR)
    lane.leave(CAR, 30)
    lines = account_statement(uow, demo.accounts["an"])
    assert [(ln.kind, ln.change_vnd, ln.balance_vnd) for ln in lines] == [
        ("fare", -25_000, 475_000),
        ("credit", 500_000, 500_000),  # the seed's opening balance, an operator credit
    ]


def test_balances_agree_with_the_journal_and_a_drift_is_found(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    lane.enter(CAR)
    lane.leave(CAR, 30)
    with uow:
        assert check_balances(uow.session) == []
        acct = uow.session.get(orm.TransportAccount, demo.accounts["an"])
        assert acct is not None
        acct.balance_vnd += 1  # a bug or a hand edit
        uow.commit()
    with uow:
        (bad,) = check_balances(uow.session)
    assert (bad.account_id, bad.cached_vnd, bad.journal_vnd) == (
        demo.accounts["an"],
        475_001,
        475_000,
    )
