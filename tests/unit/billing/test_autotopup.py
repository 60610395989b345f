"""Auto top-up: settlement only queues a request; a worker asks the provider; the money comes
in when the provider's webhook reports the payment (``credit_topup``), as for every top-up."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.model import AutoTopUp, DomainError, auto_topup_amount
from billing.services import (
    AutoTopUpWorker,
    credit_topup,
    get_account,
    process_auto_topups,
    set_auto_topup,
    set_lot_policy,
    top_up,
)
from billing.services.seed import CENTRAL_LOT, DemoData

from .conftest import Lane

CUONG = "30G-999.99"  # account "cuong": 10,000 VND; the demo central lot allows 50,000 overdraft


@dataclass
class Provider:
    """A payment provider that remembers what it was asked and can be made to fail."""

    name: str = "linked-wallet"
    down: bool = False
    asked: list[tuple[int, int, str]] = field(default_factory=list)

    def charge(self, account_id: int, amount_vnd: int, reference: str) -> str:
        self.asked.append((account_id, amount_vnd, reference))
        if self.down:
            raise TimeoutError("provider did not answer")
        return f"txn-{reference}"

    def deliver_webhooks(self, uow: UnitOfWork) -> None:
        """What the provider's signed webhooks do once the gateway has verified them."""
        for _, amount, reference in dict.fromkeys(self.asked):
            credit_topup(uow, self.name, reference, f"txn-{reference}", amount)


def requests(uow: UnitOfWork) -> list[orm.OutboxRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(orm.OutboxRow)
                .where(orm.OutboxRow.kind == "auto_topup_request")
                .order_by(orm.OutboxRow.id)
            )
        )


def auto_topups(uow: UnitOfWork) -> list[orm.TopUp]:
    with uow:
        return list(uow.session.scalars(select(orm.TopUp).where(orm.TopUp.auto.is_(True))))


def balance(uow: UnitOfWork, demo: DemoData, who: str = "cuong") -> int:
    acct = get_account(uow, demo.accounts[who])
    assert acct is not None
    return acct.balance_vnd


@pytest.fixture()
def auto(uow: UnitOfWork, demo: DemoData) -> None:
    set_auto_topup(uow, demo.accounts["cuong"], AutoTopUp(threshold_vnd=20_000, amount_vnd=100_000))


def test_the_amount_is_whole_steps_back_to_the_threshold() -> None:
    assert auto_topup_amount(-15_000, 20_000, 100_000) == 100_000
    assert auto_topup_amount(20_000, 20_000, 100_000) == 0
    assert auto_topup_amount(10_000, 20_000, 10_000, need_vnd=25_000) == 40_000
    with pytest.raises(DomainError):
        auto_topup_amount(0, 1, 0)


def test_an_exit_below_the_threshold_queues_a_request_and_never_calls_the_provider(
    uow: UnitOfWork, demo: DemoData, lane: Lane, auto: None
) -> None:
    lane.enter(CUONG)
    d = lane.leave(CUONG, 60, event_id="exit-1")  # 10,000 - 25,000: overdraft
    assert (d.open, d.reason, d.balance_vnd) == (True, "exit_overdraft", -15_000)
    assert auto_topups(uow) == []  # the gate did not wait for the provider
    (req,) = requests(uow)
    assert req.key == "exit-1" and req.processed_at is None
    assert req.payload == {
        "event_id": "exit-1",
        "account_id": demo.accounts["cuong"],
        "provider": "",  # the operator's default auto top-up provider
        "amount_vnd": 100_000,
        "threshold_vnd": 20_000,
        "need_vnd": 0,
        "balance_vnd": -15_000,
    }
    provider = Provider()
    (done,) = process_auto_topups(uow, provider)
    assert (done.outcome, done.amount_vnd) == ("requested", 100_000)
    assert provider.asked == [(demo.accounts["cuong"], 100_000, "auto:exit-1")]
    assert balance(uow, demo) == -15_000  # the provider's answer is no payment yet
    provider.deliver_webhooks(uow)
    assert balance(uow, demo) == 85_000
    (t,) = auto_topups(uow)
    assert (t.provider, t.provider_txn_id, t.amount_vnd) == (
        "linked-wallet",
        "txn-auto:exit-1",
        100_000,
    )
    with uow:
        lines = dict(
            uow.session.execute(
                select(orm.JournalLine.ledger_account, orm.JournalLine.amount_vnd).where(
                    orm.JournalLine.entry_id == t.journal_entry_id
                )
            ).all()
        )
    assert lines == {
        "asset:clearing:linked-wallet": 100_000,
        f"liability:prepaid:{demo.accounts['cuong']}": -100_000,
    }
    (req,) = requests(uow)
    assert req.processed_at is not None and req.attempts == 1
    # Running again (or a replay of the exit, or the webhook again) tops up nothing more.
    assert process_auto_topups(uow, provider) == []
    provider.deliver_webhooks(uow)
    assert lane.leave(CUONG, 60, event_id="exit-1") == d
    assert len(requests(uow)) == 1 and len(auto_topups(uow)) == 1
    assert balance(uow, demo) == 85_000


def test_a_provider_failure_leaves_the_request_for_a_retry(
    uow: UnitOfWork, demo: DemoData, lane: Lane, auto: None
) -> None:
    lane.enter(CUONG)
    lane.leave(CUONG, 60, event_id="exit-2")
    provider = Provider(down=True)
    (failed,) = process_auto_topups(uow, provider)
    assert failed.outcome == "failed" and "did not answer" in failed.detail
    (req,) = requests(uow)
    assert req.processed_at is None and req.attempts == 1
    assert req.last_error == "TimeoutError: provider did not answer"
    assert balance(uow, demo) == -15_000 and auto_topups(uow) == []
    provider.down = False
    (done,) = process_auto_topups(uow, provider)
    provider.deliver_webhooks(uow)
    assert done.outcome == "requested" and balance(uow, demo) == 85_000
    # Asked twice with one key: a real provider took the money once.
    assert [key for _, _, key in provider.asked] == ["auto:exit-2", "auto:exit-2"]
    (req,) = requests(uow)
    assert (req.attempts, req.last_error) == (2, None) and req.processed_at is not None


def test_the_worker_pauses_a_failing_request(
    uow: UnitOfWork, demo: DemoData, lane: Lane, auto: None
) -> None:
    lane.enter(CUONG)
    lane.leave(CUONG, 60)
    clock = [100.0]
    provider = Provider(down=True)
    worker = AutoTopUpWorker(uow, provider, monotonic=lambda: clock[0])
    assert [r.outcome for r in worker.run_once()] == ["failed"]
    assert worker.run_once() == []  # pausing: the provider is not asked again at once
    clock[0] += 1.5
    provider.down = False
    assert [r.outcome for r in worker.run_once()] == ["requested"]
    assert len(provider.asked) == 2


def test_a_car_held_for_low_balance_is_topped_up_and_leaves_on_its_retry(
    uow: UnitOfWork, demo: DemoData, lane: Lane, auto: None
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, low_balance="deny")
    lane.enter(CUONG)
    held = lane.leave(CUONG, 50)  # 25,000 > 10,000: the policy decides now
    assert (held.open, held.reason) == (False, "low_balance")
    again = lane.leave(CUONG, 50.5)  # the next trigger, before the worker ran
    assert again.reason == "low_balance"
    first, _ = requests(uow)
    assert (first.payload["need_vnd"], first.payload["amount_vnd"]) == (25_000, 100_000)
    provider = Provider()
    (asked,) = process_auto_topups(uow, provider, limit=1)
    provider.deliver_webhooks(uow)  # the money arrives before the worker's next request
    # One top-up covers the car: the second request, never sent, is dropped.
    assert [asked.outcome] + [r.outcome for r in process_auto_topups(uow, provider)] == [
        "requested",
        "not_needed",
    ]
    assert len(auto_topups(uow)) == 1 and balance(uow, demo) == 110_000
    paid = lane.leave(CUONG, 51)
    assert (paid.open, paid.reason, paid.balance_vnd) == (True, "exit_paid", 85_000)


def test_a_request_no_longer_needed_is_not_sent(
    uow: UnitOfWork, demo: DemoData, lane: Lane, auto: None
) -> None:
    lane.enter(CUONG)
    lane.leave(CUONG, 60)
    top_up(uow, demo.accounts["cuong"], 200_000, "momo", "momo-7")  # the driver was quicker
    provider = Provider()
    (r,) = process_auto_topups(uow, provider)
    assert r.outcome == "not_needed" and provider.asked == []
    (req,) = requests(uow)
    assert req.processed_at is not None and "not needed" in (req.last_error or "")


def test_no_request_above_the_threshold_or_without_auto_top_up(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    lane.enter("30A-123.45")
    lane.leave("30A-123.45", 60)  # "an": no auto top-up
    set_auto_topup(uow, demo.accounts["cuong"], AutoTopUp(threshold_vnd=0, amount_vnd=50_000))
    lane.enter(CUONG, 100)
    lane.leave(CUONG, 110)  # 10,000 - 25,000 < 0: below a threshold of 0
    assert [r.payload["amount_vnd"] for r in requests(uow)] == [50_000]
