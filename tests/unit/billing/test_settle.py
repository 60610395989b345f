"""settle_passage: the normal flow, idempotency, and every per-lot policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import ColumnElement, func, select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain import IdempotencyConflict
from billing.domain.decisions import PassageInput
from billing.domain.model import DomainError
from billing.services import (
    buy_monthly_pass,
    charge,
    get_account,
    get_session,
    review_queue,
    set_account_status,
    set_lot_policy,
    settle_passage,
    top_up,
    waive,
)
from billing.services.seed import CENTRAL_LOT, DemoData
from billing.services.settle import UnknownGate

from .conftest import T0, Lane, vehicle_id

CAR = "30A-123.45"  # account "an", 500,000 VND


def count(uow: UnitOfWork, model: type, *where: ColumnElement[bool]) -> int:
    with uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def outbox_rows(uow: UnitOfWork, kind: str) -> list[orm.OutboxRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(orm.OutboxRow).where(orm.OutboxRow.kind == kind).order_by(orm.OutboxRow.id)
            )
        )


def balance(uow: UnitOfWork, demo: DemoData, who: str) -> int:
    acct = get_account(uow, demo.accounts[who])
    assert acct is not None
    return acct.balance_vnd


def test_entry_then_exit_prices_debits_and_queues_barrier_and_invoice(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    entry = lane.enter("30A12345")  # read without separators: same vehicle
    assert (entry.open, entry.reason, entry.plate) == (True, "entry_ok", CAR)
    assert entry.session_id is not None and entry.fare_vnd is None
    out = lane.leave(CAR, 3 * 60 + 5)
    assert (out.open, out.reason, out.fare_vnd) == (True, "exit_paid", 120_000)
    assert out.balance_vnd == 380_000 == balance(uow, demo, "an")
    assert out.session_id == entry.session_id and "120.000đ" in out.display
    barriers = outbox_rows(uow, "barrier_command")
    assert [b.payload["reason"] for b in barriers] == ["entry_ok", "exit_paid"]
    assert set(barriers[1].payload) == {
        "event_id",
        "lot_id",
        "gate_id",
        "open",
        "display",
        "reason",
        "plate",
        "fare_vnd",
        "balance_vnd",
    }
    (inv,) = outbox_rows(uow, "invoice_request")
    p = inv.payload
    assert set(p) == {
        "event_id",
        "journal_entry_id",
        "session_id",
        "lot_id",
        "lot_name",
        "gate_id",
        "plate",
        "vehicle_class",
        "entry_at",
        "exit_at",
        "fare_vnd",
        "vat_percent",
        "seller",
        "buyer",
    }
    assert p["vat_percent"] == 8  # the rate billing booked the fare at (November 2026)
    assert (p["fare_vnd"], p["plate"], p["vehicle_class"]) == (120_000, CAR, "car_le9")
    assert p["entry_at"] == "2026-11-23T09:00:00+07:00" and p["exit_at"].endswith("+07:00")
    assert set(p["seller"]) == {
        "name",
        "tax_code",
        "address",
        "invoice_template",
        "invoice_series",
        "invoice_mode",
        "cash_register_code",
    }
    assert p["seller"]["invoice_mode"] in ("cash_register", "authority_coded")
    assert p["buyer"] == {
        "account_id": demo.accounts["an"],
        "kind": "person",
        "name": "Nguyễn Văn An",
        "tax_code": None,
        "address": "Ba Đình, Hà Nội",
    }
    with uow:
        entry_row = uow.session.get(orm.JournalEntry, p["journal_entry_id"])
        assert entry_row is not None and entry_row.idempotency_key == f"exit:{inv.key}"
        lines = {
            ln.ledger_account: ln.amount_vnd
            for ln in uow.session.scalars(
                select(orm.JournalLine).where(orm.JournalLine.entry_id == entry_row.id)
            )
        }
    assert lines == {  # VAT at 8%, as on the invoice: 120,000 / 1.08 = 111,111
        f"liability:prepaid:{demo.accounts['an']}": 120_000,
        f"revenue:lot:{CENTRAL_LOT}": -111_111,
        "liability:vat_payable": -8_889,
    }


def test_business_buyer_carries_tax_code(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    lane.enter("30E-246.80")
    lane.leave("30E-246.80", 60)
    (inv,) = outbox_rows(uow, "invoice_request")
    assert inv.payload["buyer"]["kind"] == "business"
    assert inv.payload["buyer"]["tax_code"] == "0101234567"


def test_repeated_event_returns_the_first_decision_and_debits_once(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    lane.enter(CAR)
    first = lane.leave(CAR, 60, event_id="gate-evt-42", confidence=0.97)
    again = lane.leave(CAR, 60, event_id="gate-evt-42", confidence=0.99)  # redelivery
    assert again == first
    # The gateway reads the frames again on a redelivery: another reading of the plate (a new
    # model, a worse frame) is still the same passage and gets the first decision.
    misread = lane.leave("30A-123.46", 60, event_id="gate-evt-42")
    assert misread == first
    assert balance(uow, demo, "an") == 475_000
    assert count(uow, orm.JournalEntry, orm.JournalEntry.kind == "fare") == 1
    assert count(uow, orm.Passage) == 2
    assert len(outbox_rows(uow, "barrier_command")) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"captured_at": T0 + timedelta(minutes=90)},
        {"gate_id": "hn-hoankiem-01-in1"},
        {"direction": "entry"},
        {"lot_id": "hn-noibai-p1", "gate_id": "hn-noibai-p1-out1"},
    ],
)
def test_an_event_id_reused_for_another_passage_is_refused(
    uow: UnitOfWork,
    demo: DemoData,
    lane: Lane,
    change: dict[str, object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Answering another passage with the first decision would open a barrier for free."""
    lane.enter(CAR)
    first = lane.leave(CAR, 60, event_id="gate-evt-7")
    original = PassageInput(
        "gate-evt-7",
        CENTRAL_LOT,
        demo.gates[CENTRAL_LOT][1],
        "exit",
        T0 + timedelta(minutes=60),
        CAR,
    )
    assert settle_passage(uow, original) == first
    with pytest.raises(IdempotencyConflict, match="gate-evt-7"):
        settle_passage(uow, replace(original, **change))  # type: ignore[arg-type]
    assert "reused for another passage" in caplog.text
    assert count(uow, orm.Passage) == 2
    assert len(outbox_rows(uow, "barrier_command")) == 2


def test_duplicate_passage_within_window_repeats_decision_without_charging(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    lane.enter(CAR)
    paid = lane.leave(CAR, 60)
    twin = lane.leave(CAR, 60.25)  # second camera trigger 15 s later, new event id
    assert (twin.reason, twin.open, twin.fare_vnd, twin.review) == ("duplicate", True, None, False)
    assert twin.session_id == paid.session_id
    assert balance(uow, demo, "an") == 475_000
    late = lane.leave(CAR, 62)  # outside the 30 s window: a real exit without entry
    assert late.reason == "exit_without_entry" and late.review


def test_duplicate_at_an_exit_with_open_review_never_charges_again(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, duplicate="open_review")
    lane.enter(CAR)
    paid = lane.leave(CAR, 30)
    twin = lane.leave(CAR, 30.25)  # a second trigger 15 s later
    assert (twin.reason, twin.open, twin.review, twin.fare_vnd, twin.session_id) == (
        "duplicate",
        True,
        True,
        None,
        paid.session_id,
    )
    assert balance(uow, demo, "an") == 475_000
    assert count(uow, orm.JournalEntry, orm.JournalEntry.kind == "fare") == 1
    assert [p.id for p in review_queue(uow)] == [twin.passage_id]
    with pytest.raises(DomainError):  # the stay was paid by the first exit
        charge(uow, twin.passage_id, actor="op")
    assert balance(uow, demo, "an") == 475_000


def test_duplicate_policy_can_send_to_review(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    set_lot_policy(uow, CENTRAL_LOT, duplicate="open_review", duplicate_window_s=60)
    lane.enter(CAR)
    d = lane.enter(CAR, 0.5)
    assert (d.reason, d.open, d.review) == ("duplicate", True, True)


def test_entry_while_open_replace_voids_the_old_session(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    first = lane.enter(CAR)
    second = lane.enter(CAR, 120)
    assert (second.reason, second.open, second.review) == ("entry_while_open", True, True)
    assert second.session_id != first.session_id
    with uow:
        old = uow.session.get(orm.ParkingSession, first.session_id)
        assert old is not None and old.status == "void"
    out = lane.leave(CAR, 180)  # priced from the second entry: one hour
    assert out.fare_vnd == 25_000 and out.session_id == second.session_id


def test_entry_while_open_keep_and_deny(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    set_lot_policy(uow, CENTRAL_LOT, entry_while_open="keep")
    first = lane.enter(CAR)
    kept = lane.enter(CAR, 60)
    assert (kept.open, kept.reason, kept.session_id, kept.review) == (
        True,
        "entry_while_open",
        first.session_id,
        False,
    )
    set_lot_policy(uow, CENTRAL_LOT, entry_while_open="deny")
    denied = lane.enter(CAR, 61)
    assert (denied.open, denied.reason, denied.review) == (False, "entry_while_open", True)
    assert lane.leave(CAR, 125).fare_vnd == 85_000  # still priced from the first entry


@pytest.mark.parametrize(("outcome", "opened"), [("open_review", True), ("deny", False)])
def test_exit_without_entry_open_review_or_deny(
    uow: UnitOfWork, demo: DemoData, lane: Lane, outcome: str, opened: bool
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, exit_without_entry=outcome)
    d = lane.leave(CAR, 10)
    assert (d.open, d.reason, d.review, d.fare_vnd) == (opened, "exit_without_entry", True, None)
    assert balance(uow, demo, "an") == 500_000


def test_exit_without_entry_charge_flat(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    set_lot_policy(
        uow, CENTRAL_LOT, exit_without_entry="charge_flat", exit_without_entry_fare_vnd=50_000
    )
    d = lane.leave(CAR, 10)
    assert (d.open, d.reason, d.fare_vnd, d.balance_vnd) == (
        True,
        "exit_without_entry",
        50_000,
        450_000,
    )
    assert len(outbox_rows(uow, "invoice_request")) == 1


@pytest.mark.parametrize(
    "low_balance",
    [
        {"low_balance": "deny"},
        # the flat fare goes beyond the overdraft limit: 10,000 - 50,000 < -20,000
        {"low_balance": "overdraft", "overdraft_limit_vnd": 20_000},
    ],
)
def test_denied_flat_fare_leaves_no_open_session_and_the_retry_is_denied_again(
    uow: UnitOfWork, demo: DemoData, lane: Lane, low_balance: dict[str, object]
) -> None:
    """The revenue leak: a denied flat fare left an open session starting at the exit time,
    and the car's next trigger priced that zero-minute stay at 0 and opened the barrier."""
    set_lot_policy(
        uow,
        CENTRAL_LOT,
        exit_without_entry="charge_flat",
        exit_without_entry_fare_vnd=50_000,
        **low_balance,
    )
    denied = lane.leave("30G-999.99", 10)  # account "cuong": 10,000 VND
    assert (denied.open, denied.reason, denied.fare_vnd) == (False, "low_balance", 50_000)
    assert denied.review
    assert denied.session_id is None
    assert count(uow, orm.ParkingSession, orm.ParkingSession.status == "open") == 0
    retry = lane.leave("30G-999.99", 10.5)  # the next camera trigger, 30 s later
    assert (retry.open, retry.reason, retry.fare_vnd) == (False, "low_balance", 50_000)
    assert balance(uow, demo, "cuong") == 10_000
    top_up(uow, demo.accounts["cuong"], 100_000, "momo", "momo-flat")
    paid = lane.leave("30G-999.99", 11)
    assert (paid.open, paid.reason, paid.fare_vnd, paid.balance_vnd) == (
        True,
        "exit_without_entry",
        50_000,
        60_000,
    )
    assert count(uow, orm.ParkingSession) == 1
    assert len(outbox_rows(uow, "invoice_request")) == 1
    assert review_queue(uow) == []  # the paid exit settled the two held cases


def test_charge_flat_needs_an_amount(uow: UnitOfWork, demo: DemoData) -> None:
    with pytest.raises(DomainError, match="charge_flat"):
        set_lot_policy(uow, CENTRAL_LOT, exit_without_entry="charge_flat")
    with pytest.raises(DomainError, match="not one of"):
        set_lot_policy(uow, CENTRAL_LOT, low_balance="open")
    with pytest.raises(DomainError, match="unknown policy"):
        set_lot_policy(uow, CENTRAL_LOT, free_beer=True)


def test_unknown_plate_denied_at_central_entry(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    d = lane.enter("51F-111.22")
    assert (d.open, d.reason, d.session_id) == (False, "unknown_plate", None)
    assert "chưa có tài khoản" in d.display


def test_unknown_plate_open_review_at_airport(
    uow: UnitOfWork, demo: DemoData, airport: Lane
) -> None:
    d = airport.enter("51F-111.22")
    assert (d.open, d.reason, d.review) == (True, "unknown_plate_entry", True)
    assert d.session_id is not None
    out = airport.leave("51F-111.22", 95)
    assert (out.open, out.reason, out.review, out.fare_vnd) == (True, "unknown_plate", True, 25_000)
    with uow:
        s = uow.session.get(orm.ParkingSession, out.session_id)
        assert s is not None and (s.status, s.payment) == ("closed", "pending")
    assert count(uow, orm.JournalEntry, orm.JournalEntry.kind == "fare") == 0


def test_unknown_plate_allowed_in_but_denied_out(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, unknown_plate_entry="allow")
    d = lane.enter("51F-111.22")
    assert (d.open, d.reason, d.review) == (True, "unknown_plate_entry", False)
    out = lane.leave("51F-111.22", 60)
    assert (out.open, out.reason, out.review) == (False, "unknown_plate", True)


@pytest.mark.parametrize(
    ("plate", "confidence", "needs_review"),
    [
        (None, 0.0, False),
        ("30A-123.45", 0.5, False),
        ("30A-123.45", 0.99, True),
        ("3OA-I23.45", 0.99, False),
        ("", 0.9, False),
    ],
)
def test_unreadable_plates_are_never_charged(
    uow: UnitOfWork,
    demo: DemoData,
    lane: Lane,
    plate: str | None,
    confidence: float,
    needs_review: bool,
) -> None:
    lane.enter(CAR)
    d = lane.leave(plate, 60, confidence=confidence, needs_review=needs_review)
    assert (d.open, d.reason, d.review, d.fare_vnd) == (False, "plate_unreadable", True, None)
    assert balance(uow, demo, "an") == 500_000
    set_lot_policy(uow, CENTRAL_LOT, unreadable="open_review")
    d = lane.leave(plate, 61, confidence=confidence, needs_review=needs_review)
    assert (d.open, d.reason, d.review) == (True, "plate_unreadable", True)
    assert balance(uow, demo, "an") == 500_000


def test_low_balance_deny_keeps_barrier_closed_until_top_up(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, low_balance="deny")
    entry = lane.enter("30G-999.99")  # account "cuong": 10,000 VND
    d = lane.leave("30G-999.99", 50)
    assert (d.open, d.reason, d.fare_vnd, d.balance_vnd) == (False, "low_balance", 25_000, 10_000)
    assert "không đủ" in d.display
    # The operator sees the car held at the barrier; its stay goes on (the session stays open).
    assert d.review and d.session_id == entry.session_id
    assert [p.id for p in review_queue(uow)] == [d.passage_id]
    held = get_session(uow, d.session_id or -1)
    assert held is not None and (held.status, held.payment) == ("open", "unpaid")
    again = lane.leave("30G-999.99", 50.1)  # still short: held again
    assert (again.open, again.reason, again.review) == (False, "low_balance", True)
    top_up(uow, demo.accounts["cuong"], 100_000, "momo", "momo-1")
    d = lane.leave("30G-999.99", 50.2)  # the same car seconds later: a retry, not a duplicate
    assert (d.open, d.reason, d.fare_vnd, d.balance_vnd) == (True, "exit_paid", 25_000, 85_000)
    assert d.session_id == entry.session_id and not d.review
    assert review_queue(uow) == []  # the paid exit settled both held cases
    closed = get_session(uow, entry.session_id or -1)
    assert closed is not None and (closed.status, closed.payment) == ("closed", "charged")


def test_operator_charges_a_car_held_for_low_balance(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, low_balance="deny")
    entry = lane.enter("30G-999.99")
    lane.leave("30G-999.99", 30)
    again = lane.leave("30G-999.99", 30.5)
    assert len(review_queue(uow)) == 2
    charge(uow, again.passage_id, actor="op.lan")  # let out and billed: may go below zero
    assert balance(uow, demo, "cuong") == 10_000 - 25_000
    s = get_session(uow, entry.session_id or -1)
    assert s is not None and (s.status, s.payment, s.fare_vnd) == ("closed", "charged", 25_000)
    assert review_queue(uow) == []  # one car, one case


def test_operator_waives_a_car_held_for_low_balance(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, low_balance="deny")
    entry = lane.enter("30G-999.99")
    held = lane.leave("30G-999.99", 30)
    waive(uow, held.passage_id, actor="op.lan", reason="barrier opened by hand")
    s = get_session(uow, entry.session_id or -1)
    assert s is not None and (s.status, s.payment, s.fare_vnd) == ("closed", "waived", 25_000)
    assert review_queue(uow) == [] and balance(uow, demo, "cuong") == 10_000


@pytest.mark.parametrize(("outcome", "opened"), [("deny", False), ("open_review", True)])
def test_suspended_account_at_the_exit(
    uow: UnitOfWork, demo: DemoData, lane: Lane, outcome: str, opened: bool
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, account_suspended=outcome)
    entry = lane.enter(CAR)
    set_account_status(uow, demo.accounts["an"], "suspended")
    d = lane.leave(CAR, 30)
    assert (d.open, d.reason, d.review, d.session_id) == (
        opened,
        "account_suspended",
        True,
        entry.session_id,
    )
    assert [p.id for p in review_queue(uow)] == [d.passage_id]
    assert balance(uow, demo, "an") == 500_000
    s = get_session(uow, entry.session_id or -1)
    assert s is not None
    if opened:  # out, billed later by the operator
        assert (s.status, s.payment, s.fare_vnd) == ("closed", "pending", 25_000)
        charge(uow, d.passage_id, actor="op")
    else:  # held: pays by itself once the account is active again
        assert (s.status, s.payment) == ("open", "unpaid")
        set_account_status(uow, demo.accounts["an"], "active")
        retry = lane.leave(CAR, 30.5)
        assert (retry.open, retry.reason, retry.fare_vnd) == (True, "exit_paid", 25_000)
    assert balance(uow, demo, "an") == 475_000
    assert review_queue(uow) == []


def test_low_balance_overdraft_down_to_the_limit(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    # The demo central lot allows 50,000 VND of overdraft.
    lane.enter("30G-999.99")
    d = lane.leave("30G-999.99", 60)  # 10,000 - 25,000
    assert (d.open, d.reason, d.balance_vnd) == (True, "exit_overdraft", -15_000)
    lane.enter("30G-999.99", 70)
    d = lane.leave("30G-999.99", 70 + 130)  # 85,000 would go to -100,000: beyond the limit
    assert (d.open, d.reason, d.balance_vnd) == (False, "low_balance", -15_000)


def test_low_balance_open_review(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    set_lot_policy(uow, CENTRAL_LOT, low_balance="open_review")
    lane.enter("30G-999.99")
    d = lane.leave("30G-999.99", 60)
    assert (d.open, d.reason, d.review, d.balance_vnd) == (True, "low_balance", True, 10_000)
    with uow:
        s = uow.session.get(orm.ParkingSession, d.session_id)
        assert s is not None and (s.payment, s.fare_vnd) == ("pending", 25_000)


def test_low_balance_notice_is_queued(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    lane.enter("30G-999.99")
    lane.leave("30G-999.99", 60)
    (n,) = outbox_rows(uow, "low_balance_notice")
    assert n.payload["account_id"] == demo.accounts["cuong"] and n.payload["balance_vnd"] == -15_000


def test_suspended_account_is_denied(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    set_account_status(uow, demo.accounts["an"], "suspended")
    d = lane.enter(CAR)
    assert (d.open, d.reason, d.review) == (False, "account_suspended", False)  # can turn back


def test_grace_period_exit_is_free_and_needs_no_invoice(
    uow: UnitOfWork, demo: DemoData, airport: Lane
) -> None:
    airport.enter(CAR)
    d = airport.leave(CAR, 9)
    assert (d.open, d.reason, d.fare_vnd, d.balance_vnd) == (True, "exit_free", 0, 500_000)
    assert outbox_rows(uow, "invoice_request") == []


def test_monthly_pass_exits_free(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    vid = vehicle_id(uow, "30E24680")
    buy_monthly_pass(uow, vid, CENTRAL_LOT, "day_night", T0.date().replace(day=1), "pass-1")
    assert balance(uow, demo, "logistics") == 1_000_000
    lane.enter("30E-246.80")
    d = lane.leave("30E-246.80", 600)
    assert (d.reason, d.fare_vnd) == ("exit_free", 0)
    # the same purchase key again does not sell a second pass
    buy_monthly_pass(uow, vid, CENTRAL_LOT, "day_night", T0.date().replace(day=1), "pass-1")
    assert balance(uow, demo, "logistics") == 1_000_000


def test_tariff_of_the_vehicle_class(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    lane.enter("29-B1 678.90", 0)  # motorbike of "an", 09:00 -> 10:00: one day turn
    assert lane.leave("29B167890", 60).fare_vnd == 5_000


def test_unknown_gate_is_an_error_and_records_nothing(uow: UnitOfWork, demo: DemoData) -> None:
    with pytest.raises(UnknownGate):
        settle_passage(uow, PassageInput("x1", CENTRAL_LOT, "nope", "entry", T0, CAR))
    with pytest.raises(UnknownGate):
        settle_passage(
            uow, PassageInput("x2", "nolot", demo.gates[CENTRAL_LOT][0], "entry", T0, CAR)
        )
    assert count(uow, orm.Passage) == 0


def test_bad_input_is_rejected(uow: UnitOfWork, demo: DemoData) -> None:
    gate = demo.gates[CENTRAL_LOT][0]
    with pytest.raises(DomainError, match="aware"):
        settle_passage(
            uow, PassageInput("x", CENTRAL_LOT, gate, "entry", T0.replace(tzinfo=None), CAR)
        )
    with pytest.raises(ValueError):
        settle_passage(uow, PassageInput("x", CENTRAL_LOT, gate, "sideways", T0, CAR))
    with pytest.raises(DomainError, match="event_id"):
        settle_passage(uow, PassageInput("", CENTRAL_LOT, gate, "entry", T0, CAR))


def test_exit_time_before_entry_is_priced_as_zero_length(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    """A gate clock running behind must not crash settlement or produce a negative stay."""
    lane.enter(CAR, 30)
    d = lane.leave(CAR, 29 + timedelta(seconds=0).total_seconds())
    assert d.open and d.fare_vnd == 0


def test_policy_change_is_seen_by_every_unit_of_work_of_the_factory(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    """The gateway makes a unit of work per call; the lot cache must not hide a policy change."""
    lane.enter("30G-999.99")
    assert lane.leave("30G-999.99", 50).reason == "exit_overdraft"  # demo policy: overdraft
    other = UnitOfWork(uow.session_factory)
    set_lot_policy(other, CENTRAL_LOT, low_balance="deny")
    lane.enter("30G-999.99", 60)
    assert lane.leave("30G-999.99", 110).reason == "low_balance"


def test_deadlock_victims_are_retried_other_errors_are_not() -> None:
    from sqlalchemy.exc import OperationalError

    from billing.services.settle import _retryable

    class Orig(Exception):
        def __init__(self, sqlstate: str | None, text: str = "") -> None:
            super().__init__(text)
            self.sqlstate = sqlstate

    assert _retryable(OperationalError("x", {}, Orig("40P01")))
    assert _retryable(OperationalError("x", {}, Orig("40001")))
    assert _retryable(OperationalError("x", {}, Orig(None, "database is locked")))
    assert not _retryable(OperationalError("x", {}, Orig("08006", "connection lost")))
    # A connection SQLAlchemy saw lost (and invalidated): the transaction is redone once.
    lost = OperationalError("x", {}, Orig("57P01"), connection_invalidated=True)
    assert _retryable(lost, 0)
    assert not _retryable(lost, 1)


def test_finish_statement_parameters_are_named_unlike_any_column() -> None:
    """SQLAlchemy adds a parameter named like a column of an UPDATE to its SET clause: in the
    one-statement finish (PostgreSQL) that would write one table's value into another's."""
    from sqlalchemy.dialects import postgresql

    from billing.adapters import orm
    from billing.services import statements

    stmt = statements.q_finish(tuple(statements.TRAILING_WRITES), 2)
    names = set(stmt.compile(dialect=postgresql.dialect()).binds)
    columns = {c.name for table in orm.metadata.tables.values() for c in table.columns}
    assert names and not names & columns, names & columns
