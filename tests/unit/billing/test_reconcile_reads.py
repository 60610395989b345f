"""Reconciliation per lot and day, the read models, gate status and the outbox helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select

from billing.adapters import orm, outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.model import DomainError
from billing.services import (
    InvoiceTotals,
    list_accounts,
    list_gates,
    list_lots,
    list_passages,
    list_sessions,
    occupancy,
    reconcile,
    record_gate_status,
    revenue,
    seed_demo,
)
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT, DemoData

from .conftest import T0, Lane, a_day


def test_a_clean_day_reconciles(uow: UnitOfWork, demo: DemoData, lane: Lane, airport: Lane) -> None:
    a_day(lane, airport)
    r = reconcile(uow, T0.date())
    assert r.ok, r.mismatches
    central = next(x for x in r.lots if x.lot_id == CENTRAL_LOT)
    assert (central.entries, central.exits, central.closed_sessions, central.charged_sessions) == (
        3,
        2,
        2,
        2,
    )
    assert central.fares_vnd == central.ledger_fares_vnd == 55_000
    # Inside the fares, at 8%: the rate in force on 23 November 2026 (billing.domain.vat).
    assert central.vat_vnd == 3_704 + 370
    air = next(x for x in r.lots if x.lot_id == AIRPORT_LOT)
    assert (air.fares_vnd, air.review_pending) == (45_000, 2)
    assert r.trial_balance_vnd == 0
    other_day = reconcile(uow, T0.date() + timedelta(days=1), CENTRAL_LOT)
    assert other_day.ok and other_day.lots[0].exits == 0


def test_mismatches_are_listed(uow: UnitOfWork, demo: DemoData, lane: Lane, airport: Lane) -> None:
    a_day(lane, airport)
    with uow:
        s = uow.session.scalars(
            select(orm.ParkingSession).where(
                orm.ParkingSession.lot_id == CENTRAL_LOT, orm.ParkingSession.fare_vnd == 5_000
            )
        ).one()
        s.fare_vnd = 6_000  # the session says something the ledger does not
        acct = uow.session.get(orm.TransportAccount, demo.accounts["logistics"])
        assert acct is not None
        acct.balance_vnd -= 7  # and a cached balance drifts
        uow.commit()
    r = reconcile(uow, T0.date())
    kinds = sorted(m.kind for m in r.mismatches)
    assert kinds == ["amount", "balance", "passage_fare"], r.mismatches
    assert not r.ok


def test_a_free_exit_from_a_session_without_entry_is_flagged(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    """What a denied flat fare used to leave: an open session starting at the exit time (no
    entry passage); the car's retry closed it free and left without paying."""
    with uow:
        uow.session.add(
            orm.ParkingSession(
                lot_id=CENTRAL_LOT,
                plate_text="30G-999.99",
                plate_key="30G99999",
                status="open",
                entry_at=T0 + timedelta(minutes=10),
                entry_passage_id=None,
            )
        )
        uow.commit()
    out = lane.leave("30G-999.99", 10.5)
    assert (out.open, out.reason, out.fare_vnd) == (True, "exit_free", 0)
    r = reconcile(uow, T0.date())
    assert [(m.kind, m.ref) for m in r.mismatches] == [
        ("free_exit_without_entry", str(out.session_id))
    ]
    assert not r.ok


def test_invoice_hook_finds_missing_and_wrong_invoices(
    uow: UnitOfWork, demo: DemoData, lane: Lane, airport: Lane
) -> None:
    a_day(lane, airport)
    with uow:
        fares = {
            r.key: r.payload["fare_vnd"]
            for r in uow.session.scalars(
                select(orm.OutboxRow).where(orm.OutboxRow.kind == "invoice_request")
            )
        }
    assert len(fares) == 3
    asked: list[str] = []

    def all_invoiced(events: Sequence[str]) -> Mapping[str, InvoiceTotals]:
        asked.extend(events)
        return {e: InvoiceTotals(1, fares[e]) for e in events if e in fares}

    assert reconcile(uow, T0.date(), invoices=all_invoiced).ok
    assert set(fares) <= set(asked)
    first, second, *_ = sorted(fares)

    def broken(events: Sequence[str]) -> Mapping[str, InvoiceTotals]:
        out = {e: InvoiceTotals(1, fares[e]) for e in events if e in fares and e != first}
        if second in events:  # asked once per lot
            out[second] = InvoiceTotals(1, fares[second] + 1000)
        return out

    r = reconcile(uow, T0.date(), invoices=broken)
    assert sorted((m.kind, m.ref) for m in r.mismatches) == sorted(
        [("invoice_missing", first), ("invoice_amount", second)]
    )
    figures = {x.lot_id: x for x in r.lots}
    assert sum(x.invoices or 0 for x in figures.values()) == 2


def test_revenue_occupancy_and_lists(
    uow: UnitOfWork, demo: DemoData, lane: Lane, airport: Lane
) -> None:
    a_day(lane, airport)
    rows = revenue(uow, T0.date(), T0.date())
    assert {(r.lot_id, r.vehicle_class): (r.exits, r.fare_vnd) for r in rows} == {
        (CENTRAL_LOT, "car_le9"): (1, 50_000),
        (CENTRAL_LOT, "motorbike"): (1, 5_000),
        (AIRPORT_LOT, "car_gt9_truck"): (1, 45_000),
    }
    assert {o.lot_id: o.occupied for o in occupancy(uow)} == {CENTRAL_LOT: 1, AIRPORT_LOT: 1}
    assert len(list_passages(uow, lot_id=CENTRAL_LOT)) == 5
    assert [p.reason for p in list_passages(uow, review_pending=True)] == [
        "plate_unreadable",
        "unknown_plate_entry",
    ]
    assert len(list_sessions(uow, status="open")) == 2
    (found,) = list_accounts(uow, search="29C45678")
    assert found.name == "Công ty CP Vận tải Sông Hồng" and len(found.vehicles) == 2
    assert [a.name for a in list_accounts(uow, search="bình")] in ([], ["Trần Thị Bình"])


def test_gate_status_keeps_the_latest_report(uow: UnitOfWork, demo: DemoData) -> None:
    gate = demo.gates[CENTRAL_LOT][0]
    assert record_gate_status(uow, gate, "online", T0)
    assert record_gate_status(uow, gate, "offline", T0 + timedelta(minutes=5))
    assert not record_gate_status(uow, gate, "online", T0 + timedelta(minutes=1))  # stale
    g = next(g for g in list_gates(uow, CENTRAL_LOT) if g.id == gate)
    assert (g.status, g.status_at) == ("offline", T0 + timedelta(minutes=5))
    with pytest.raises(ValueError):
        record_gate_status(uow, gate, "sleeping", T0)
    with pytest.raises(DomainError):
        record_gate_status(uow, "nope", "online", T0)


def test_outbox_claim_and_mark(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    lane.enter("30A-123.45")
    lane.leave("30A-123.45", 30)
    with uow:
        rows = outbox.claim(uow.session, "barrier_command", limit=10)
        assert [r.payload["reason"] for r in rows] == ["entry_ok", "exit_paid"]
        outbox.mark_processed(uow.session, rows[0].id)
        outbox.mark_failed(uow.session, rows[1].id, "broker down")
        uow.commit()
    with uow:
        (left,) = outbox.claim(uow.session, "barrier_command", limit=10)
        assert (left.attempts, left.last_error) == (1, "broker down")
        assert outbox.pending(uow.session, "invoice_request") == 1
        with pytest.raises(LookupError):
            outbox.mark_processed(uow.session, 10_000)


def test_outbox_claim_rows_and_mark_many(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    lane.enter("30A-123.45")
    lane.enter("30E-246.80")
    lane.leave("30A-123.45", 30)
    with uow:
        rows = outbox.claim_rows(uow.session, "barrier_command", limit=2)
        assert [r.payload["reason"] for r in rows] == ["entry_ok", "entry_ok"]
        outbox.mark_processed_many(uow.session, [r.id for r in rows])
        outbox.mark_processed_many(uow.session, [])
        uow.commit()
    with uow:
        (left,) = outbox.claim(uow.session, "barrier_command", limit=10)
        assert left.payload["reason"] == "exit_paid" and left.attempts == 0
        done = uow.session.scalars(
            select(orm.OutboxRow).where(orm.OutboxRow.id.in_([r.id for r in rows]))
        ).all()
        assert [(r.attempts, r.processed_at is not None) for r in done] == [(1, True)] * 2


def test_seed_demo_twice_adds_nothing(uow: UnitOfWork, demo: DemoData) -> None:
    again = seed_demo(uow)
    assert again.accounts == demo.accounts and again.gates == demo.gates
    assert again.plates == demo.plates and len(list_accounts(uow)) == 4
    assert {lot.id for lot in list_lots(uow)} == {CENTRAL_LOT, AIRPORT_LOT}
