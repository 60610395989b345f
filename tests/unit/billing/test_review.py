"""The review queue: correct a plate, charge, waive; every action leaves an audit row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.model import DomainError
from billing.services import (
    charge,
    correct_plate,
    get_account,
    get_session,
    reconcile,
    review_actions,
    review_queue,
    set_lot_policy,
    waive,
)
from billing.services.reconcile import InvoiceTotals
from billing.services.seed import CENTRAL_LOT, DemoData

from .conftest import T0, Lane

CAR = "30A-123.45"


def test_unreadable_exit_corrected_then_charged_once(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, unreadable="open_review")
    lane.enter(CAR)
    d = lane.leave(None, 61)
    assert d.open and d.review
    (queued,) = review_queue(uow)
    assert queued.id == d.passage_id and queued.reason == "plate_unreadable"

    session_id = correct_plate(uow, d.passage_id, "30a12345", actor="op.lan")
    s = get_session(uow, session_id or -1)
    assert s is not None and (s.status, s.payment, s.fare_vnd) == ("closed", "pending", 50_000)
    assert review_queue(uow)  # still waiting for charge or waive

    entry_id = charge(uow, d.passage_id, actor="op.lan")
    acct = get_account(uow, demo.accounts["an"])
    assert acct is not None and acct.balance_vnd == 450_000
    assert review_queue(uow) == []
    with uow:
        inv = uow.session.scalar(
            select(orm.OutboxRow).where(orm.OutboxRow.kind == "invoice_request")
        )
        je = uow.session.get(orm.JournalEntry, entry_id)
    assert inv is not None and inv.payload["fare_vnd"] == 50_000
    assert je is not None and je.idempotency_key == f"exit:{inv.key}"
    with pytest.raises(DomainError, match="charged already"):
        charge(uow, d.passage_id, actor="op.lan")
    with pytest.raises(DomainError, match="refund"):
        waive(uow, d.passage_id, actor="op.lan", reason="oops")
    trail = review_actions(uow, d.passage_id)
    assert [(a.action, a.actor) for a in reversed(trail)] == [
        ("correct_plate", "op.lan"),
        ("charge", "op.lan"),
    ]
    assert trail[-1].details["after"] == CAR and trail[0].details["amount_vnd"] == 50_000


def test_waive_closes_the_case_without_charging(
    uow: UnitOfWork, demo: DemoData, airport: Lane
) -> None:
    airport.enter("51F-111.22")
    out = airport.leave("51F-111.22", 95)
    waive(uow, out.passage_id, actor="op.minh", reason="visitor of the operator")
    s = get_session(uow, out.session_id or -1)
    assert s is not None and s.payment == "waived"
    assert all(p.id != out.passage_id for p in review_queue(uow))
    (action,) = review_actions(uow, out.passage_id)
    assert (action.action, action.details["reason"]) == ("waive", "visitor of the operator")
    with pytest.raises(DomainError, match="say why"):
        waive(uow, out.passage_id, actor="op.minh", reason=" ")


def test_unknown_plate_registered_later_can_be_charged(
    uow: UnitOfWork, demo: DemoData, airport: Lane
) -> None:
    airport.enter("51F-111.22")
    out = airport.leave("51F-111.22", 95)
    with pytest.raises(DomainError, match="registered vehicle"):
        charge(uow, out.passage_id, actor="op")
    from billing.services import add_vehicle

    add_vehicle(uow, demo.accounts["an"], "51F-111.22", "car_le9")
    correct_plate(uow, out.passage_id, "51F-111.22", actor="op")  # links account and vehicle
    charge(uow, out.passage_id, actor="op")
    acct = get_account(uow, demo.accounts["an"])
    assert acct is not None and acct.balance_vnd == 475_000


def test_corrected_entry_opens_the_session_it_missed(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    d = lane.enter(CAR, confidence=0.4)
    assert (d.open, d.reason) == (False, "plate_unreadable")
    correct_plate(uow, d.passage_id, CAR, actor="op")
    waive(uow, d.passage_id, actor="op", reason="entry handled by hand")
    out = lane.leave(CAR, 60)
    assert (out.reason, out.fare_vnd) == ("exit_paid", 25_000)


def test_charge_with_operator_amount_for_exit_without_entry(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    d = lane.leave(CAR, 60)
    assert d.reason == "exit_without_entry" and d.review
    with pytest.raises(DomainError, match="give an amount"):
        charge(uow, d.passage_id, actor="op")
    charge(uow, d.passage_id, actor="op", amount_vnd=30_000, note="ticket shown: 1h10")
    acct = get_account(uow, demo.accounts["an"])
    assert acct is not None and acct.balance_vnd == 470_000


def test_review_actions_need_a_valid_plate_and_an_actor(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    d = lane.enter(None)
    with pytest.raises(DomainError, match="not a valid"):
        correct_plate(uow, d.passage_id, "hello", actor="op")
    with pytest.raises(DomainError, match="operator"):
        correct_plate(uow, d.passage_id, CAR, actor="")
    with pytest.raises(DomainError, match="no passage"):
        waive(uow, 9999, actor="op", reason="x")


def _invoiced_as_charged(uow: UnitOfWork) -> Any:
    """An invoice lookup that finds one invoice per fare entry, for its amount (what the invoice
    worker makes of every fare's invoice request)."""

    def lookup(events: Sequence[str]) -> dict[str, InvoiceTotals]:
        with uow:
            rows = uow.session.execute(
                select(orm.JournalEntry.event_id, orm.JournalLine.amount_vnd)
                .join(orm.JournalLine, orm.JournalLine.entry_id == orm.JournalEntry.id)
                .where(orm.JournalEntry.kind == "fare", orm.JournalLine.amount_vnd > 0)
            ).all()
        return {ev: InvoiceTotals(1, amount) for ev, amount in rows if ev in set(events)}

    return lookup


def test_a_car_held_at_the_exit_that_enters_again_is_charged_as_its_own_stay(
    uow: UnitOfWork, demo: DemoData, airport: Lane
) -> None:
    """The case of issue 12: a car kept at the exit for low balance entered again before the
    operator charged the held exit. The session read "void, charged" and reconciliation
    reported a fare without a closed session and an invoice without a fare."""
    car = "30G-999.99"  # account "cuong": 10,000 VND; the airport lot denies low balances
    airport.enter(car, 0)
    first = airport.leave(car, 100)  # 25,000: kept at the barrier
    held = airport.leave(car, 103)  # tried again: kept again
    assert (held.open, held.reason, held.session_id) == (False, "low_balance", first.session_id)
    again = airport.enter(car, 200)  # it got out somehow, and is back
    assert (again.open, again.reason, again.review) == (True, "entry_ok", False)
    assert again.session_id != held.session_id
    stay = get_session(uow, held.session_id or -1)
    assert stay is not None and (stay.status, stay.payment, stay.fare_vnd) == (
        "closed",
        "pending",
        25_000,
    )
    assert [p.id for p in review_queue(uow)] == [held.passage_id]  # one car, one case
    with pytest.raises(DomainError, match=f"ended at passage {held.passage_id}"):
        charge(uow, first.passage_id, actor="op")
    charge(uow, held.passage_id, actor="op")
    stay = get_session(uow, held.session_id or -1)
    assert stay is not None and (stay.status, stay.payment) == ("closed", "charged")
    acct = get_account(uow, demo.accounts["cuong"])
    assert acct is not None and acct.balance_vnd == 10_000 - 25_000  # the operator's decision
    report = reconcile(uow, T0.date(), invoices=_invoiced_as_charged(uow))
    assert report.mismatches == () and report.trial_balance_vnd == 0
    assert get_session(uow, again.session_id or -1).status == "open"  # type: ignore[union-attr]


def test_a_charge_never_marks_a_void_session(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    """A held exit whose session was voided (data from before the fix) is charged as a stay of
    its own: a new closed session, never a "void, charged" one."""
    car = "30G-999.99"
    set_lot_policy(uow, CENTRAL_LOT, low_balance="deny")
    lane.enter(car, 0)
    held = lane.leave(car, 100)
    assert not held.open
    with uow:
        s = uow.session.get(orm.ParkingSession, held.session_id)
        assert s is not None
        s.status, s.payment = "void", None  # what the replace policy used to do
        uow.commit()
    charge(uow, held.passage_id, actor="op")
    with uow:
        sessions = list(uow.session.scalars(select(orm.ParkingSession)))
    assert [(x.status, x.payment) for x in sessions] == [("void", None), ("closed", "charged")]
    assert sessions[1].fare_vnd == held.fare_vnd and sessions[1].exit_passage_id == held.passage_id
    report = reconcile(uow, T0.date(), invoices=_invoiced_as_charged(uow))
    assert report.mismatches == () and report.trial_balance_vnd == 0


def test_correcting_a_held_exit_to_another_car_releases_the_read_cars_stay(
    uow: UnitOfWork, demo: DemoData, airport: Lane
) -> None:
    """Found by the stateful money-paths test: the exit read 30G-999.99 (cuong, held for low
    balance) but it was 30A-123.45, which also had an open stay. The correction moved the
    held session to 30A-123.45 and crashed on the one-open-stay-per-car index."""
    airport.enter("30G-999.99", 0)
    airport.enter(CAR, 5)
    held = airport.leave("30G-999.99", 100)
    assert (held.open, held.reason) == (False, "low_balance")
    moved_to = correct_plate(uow, held.passage_id, CAR, actor="op")
    read_car = get_session(uow, held.session_id or -1)
    assert read_car is not None and (read_car.status, read_car.payment) == ("open", None)
    stay = get_session(uow, moved_to or -1)
    assert stay is not None and (stay.plate, stay.status, stay.payment) == (
        CAR,
        "closed",
        "pending",
    )
    charge(uow, held.passage_id, actor="op")
    assert get_account(uow, demo.accounts["an"]).balance_vnd == 500_000 - stay.fare_vnd  # type: ignore[union-attr,operator]
    report = reconcile(uow, T0.date(), invoices=_invoiced_as_charged(uow))
    assert report.mismatches == () and report.trial_balance_vnd == 0


def test_a_correction_never_opens_a_second_stay_or_moves_a_charged_one(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    lane.enter(CAR, 0)
    unread = lane.enter(None, 5)  # another car, unreadable
    with pytest.raises(DomainError, match="already has an open stay"):
        correct_plate(uow, unread.passage_id, CAR, actor="op")
    paid = lane.leave(CAR, 70)
    assert paid.reason == "exit_paid"
    with pytest.raises(DomainError, match="refund it before"):
        correct_plate(uow, paid.passage_id, "30E-246.80", actor="op")
    assert correct_plate(uow, paid.passage_id, "30a12345", actor="op") == paid.session_id


def test_a_corrected_exit_never_ends_a_stay_that_began_after_it(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    """Found by the stateful money-paths test: an unreadable exit corrected, later, to a car
    that had entered after it closed that car's new stay at the earlier exit (the stay ended
    before it began, on another day than its fare's event: reconciliation broke)."""
    set_lot_policy(uow, CENTRAL_LOT, unreadable="open_review")
    unread = lane.leave(None, 14 * 60 + 50)  # 23:50: no plate read, let out, in review
    later = lane.enter(CAR, 15 * 60 + 10)  # 00:10 the next day: this car enters
    correct_plate(uow, unread.passage_id, CAR, actor="op")
    stay = get_session(uow, later.session_id or -1)
    assert stay is not None and stay.status == "open"  # the car is inside: its stay goes on
    charge(uow, unread.passage_id, actor="op", amount_vnd=30_000)  # as an exit of its own
    for day in (T0.date(), T0.date() + timedelta(days=1)):
        report = reconcile(uow, day, invoices=_invoiced_as_charged(uow))
        assert report.mismatches == () and report.trial_balance_vnd == 0, day
