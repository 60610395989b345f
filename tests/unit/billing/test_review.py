"""The review queue: correct a plate, charge, waive; every action leaves an audit row."""

from __future__ import annotations

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
    review_actions,
    review_queue,
    set_lot_policy,
    waive,
)
from billing.services.seed import CENTRAL_LOT, DemoData

from .conftest import Lane

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
