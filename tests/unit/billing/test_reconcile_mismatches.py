"""Each kind of disagreement reconciliation reports, made on purpose from a clean day."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.services import InvoiceTotals, reconcile
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT, DemoData

from .conftest import T0, Lane, a_day

CAR = "30A-123.45"


@pytest.fixture()
def day(uow: UnitOfWork, demo: DemoData, lane: Lane, airport: Lane) -> dict[str, int]:
    """A clean day plus a free exit (airport grace period); ids of the rows the tests bend."""
    a_day(lane, airport)
    airport.enter(CAR, 200)
    free = airport.leave(CAR, 205)
    assert (free.reason, free.fare_vnd) == ("exit_free", 0)
    assert reconcile(uow, T0.date()).ok
    with uow:
        charged = uow.session.scalars(
            select(orm.ParkingSession).where(
                orm.ParkingSession.lot_id == CENTRAL_LOT, orm.ParkingSession.fare_vnd == 50_000
            )
        ).one()
    assert free.session_id is not None
    return {
        "charged_session": charged.id,
        "charged_exit": charged.exit_passage_id or -1,
        "free_session": free.session_id,
        "free_exit": free.passage_id,
    }


def bend(uow: UnitOfWork, model: type[orm.Base], row_id: int, **values: object) -> None:
    with uow:
        row = uow.session.get(model, row_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        uow.commit()


def kinds(uow: UnitOfWork, **kw: object) -> list[tuple[str | None, str]]:
    r = reconcile(uow, T0.date(), **kw)  # type: ignore[arg-type]
    assert not r.ok
    return sorted((m.lot_id, m.kind) for m in r.mismatches)


def test_fare_without_entry(uow: UnitOfWork, day: dict[str, int]) -> None:
    """A session says it was charged, the ledger has no fare for its exit."""
    bend(uow, orm.ParkingSession, day["free_session"], payment="charged", fare_vnd=15_000)
    assert kinds(uow) == [(AIRPORT_LOT, "fare_without_entry")]


def test_entry_link(uow: UnitOfWork, day: dict[str, int]) -> None:
    bend(uow, orm.ParkingSession, day["charged_session"], journal_entry_id=99_999)
    assert kinds(uow) == [(CENTRAL_LOT, "entry_link")]


def test_entry_without_session(uow: UnitOfWork, day: dict[str, int]) -> None:
    """The ledger holds a fare for an exit whose session was not charged."""
    bend(uow, orm.ParkingSession, day["charged_session"], payment="waived")
    assert kinds(uow) == [(CENTRAL_LOT, "entry_without_session")]


def test_passage_not_posted(uow: UnitOfWork, day: dict[str, int]) -> None:
    """The gate was told 'paid' and no fare was posted."""
    bend(uow, orm.Passage, day["free_exit"], reason="exit_paid")
    assert kinds(uow) == [(AIRPORT_LOT, "passage_not_posted")]


def test_unbalanced_entry_and_non_zero_trial_balance(uow: UnitOfWork, day: dict[str, int]) -> None:
    """Written around the posting service (which refuses unbalanced entries)."""
    with uow:
        entry = orm.JournalEntry(
            idempotency_key="by-hand-1", fingerprint="-", kind="adjustment", description="typo"
        )
        uow.session.add(entry)
        uow.session.flush()
        uow.session.add_all(
            [
                orm.JournalLine(
                    entry_id=entry.id, ledger_account=f"revenue:lot:{CENTRAL_LOT}", amount_vnd=1_000
                ),
                orm.JournalLine(
                    entry_id=entry.id, ledger_account="liability:vat_payable", amount_vnd=-999
                ),
            ]
        )
        uow.commit()
        entry_id = entry.id
    r = reconcile(uow, T0.date())
    assert [(m.kind, m.ref) for m in r.mismatches] == [("unbalanced_entry", str(entry_id))]
    assert r.trial_balance_vnd == 1 and not r.ok


def invoiced(
    uow: UnitOfWork, change: Callable[[dict[str, InvoiceTotals]], None]
) -> Callable[[Sequence[str]], Mapping[str, InvoiceTotals]]:
    """A lookup with one right invoice per charged exit, then ``change`` applied."""
    with uow:
        fares = {
            r.key: r.payload["fare_vnd"]
            for r in uow.session.scalars(
                select(orm.OutboxRow).where(orm.OutboxRow.kind == "invoice_request")
            )
        }
    found = {event: InvoiceTotals(1, fare) for event, fare in fares.items()}
    change(found)

    def lookup(events: Sequence[str]) -> Mapping[str, InvoiceTotals]:
        return {e: found[e] for e in events if e in found}

    return lookup


def test_invoice_duplicate_and_invoice_without_fare(uow: UnitOfWork, day: dict[str, int]) -> None:
    with uow:
        charged_event = uow.session.get(orm.Passage, day["charged_exit"])
        free_event = uow.session.get(orm.Passage, day["free_exit"])
    assert charged_event is not None and free_event is not None

    def twice_and_free(found: dict[str, InvoiceTotals]) -> None:
        found[charged_event.event_id] = InvoiceTotals(2, 100_000)
        found[free_event.event_id] = InvoiceTotals(1, 10_000)

    r = reconcile(uow, T0.date(), invoices=invoiced(uow, twice_and_free))
    assert sorted((m.kind, m.ref) for m in r.mismatches) == [
        ("invoice_duplicate", charged_event.event_id),
        ("invoice_without_fare", free_event.event_id),
    ]


def test_every_invoice_right_is_ok_and_counted(uow: UnitOfWork, day: dict[str, int]) -> None:
    r = reconcile(uow, T0.date(), invoices=invoiced(uow, lambda _found: None))
    assert r.ok, r.mismatches
    assert {x.lot_id: (x.invoices, x.invoiced_vnd) for x in r.lots} == {
        CENTRAL_LOT: (2, 55_000),
        AIRPORT_LOT: (1, 45_000),
    }
    assert reconcile(uow, T0.date() + timedelta(days=1), invoices=invoiced(uow, dict.clear)).ok
