"""The review queue: passages the machine could not settle, and what an operator does with them.

Every action is stored with who did it, when and what changed (``billing_review_actions``).
A charge uses the same idempotency key as an automatic exit debit (``exit:<event id>``), so a
passage can never be charged twice, whichever way it was charged.

A car kept at the exit barrier (low balance, suspended account) keeps its session open; the
operator's charge or waive of that passage ends the stay at the passage's time, and settles the
car's other held passages with it (one car, one case).
"""

from __future__ import annotations

from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.model import DomainError
from billing.domain.plates import canonical_plate, plate_key
from billing.domain.tariffs import Fare, FareLine, fare_of
from billing.services.fares import debit_fare, price_session
from billing.services.ledger import lock_account
from billing.services.lots import LotInfo, lot_info
from billing.services.statements import PASSAGES, q_resolve_held


def _passage(uow: UnitOfWork, passage_id: int) -> orm.Passage:
    row = uow.session.scalar(
        select(orm.Passage).where(orm.Passage.id == passage_id).with_for_update()
    )
    if row is None:
        raise DomainError(f"no passage {passage_id}")
    return row


def _audit(
    uow: UnitOfWork, passage: orm.Passage, action: str, actor: str, **details: object
) -> None:
    if not actor.strip():
        raise DomainError("review actions need the operator's name")
    uow.session.add(
        orm.ReviewAction(
            passage_id=passage.id, action=action, actor=actor, at=uow.clock(), details=dict(details)
        )
    )


def correct_plate(uow: UnitOfWork, passage_id: int, plate_text: str, actor: str) -> int | None:
    """Set the plate an operator read on the image, and link the passage to its session.

    An entry opens the session it could not open; an exit closes and prices the open session of
    that plate (payment stays pending until the operator charges or waives). Returns the session.
    """
    plate = canonical_plate(plate_text)
    if plate is None:
        raise DomainError(f"{plate_text!r} is not a valid Vietnamese plate", "plate_invalid")
    key = plate_key(plate)
    with uow:
        s = uow.session
        passage = _passage(uow, passage_id)
        before = passage.plate_text
        vehicle = s.scalar(
            select(orm.Vehicle).where(orm.Vehicle.plate_key == key, orm.Vehicle.active.is_(True))
        )
        passage.plate_text, passage.plate_key = plate, key
        passage.vehicle_id = vehicle.id if vehicle else None
        passage.account_id = vehicle.account_id if vehicle else None
        session = s.get(orm.ParkingSession, passage.session_id) if passage.session_id else None
        lot = lot_info(uow, passage.lot_id, fresh=True)
        assert lot is not None
        if session is not None and session.status != "void":
            session.plate_text, session.plate_key = plate, key
            session.vehicle_id = passage.vehicle_id
            session.account_id = passage.account_id
            if vehicle is not None:
                session.vehicle_class = vehicle.vehicle_class
            if session.status == "closed" and session.payment == "pending" and vehicle:
                fare = price_session(
                    uow,
                    lot,
                    session,
                    vehicle.vehicle_class,
                    session.exit_at or passage.captured_at,
                    vehicle.id,
                )
                _set_fare(session, fare)
        elif passage.direction == "entry":
            session = orm.ParkingSession(
                lot_id=passage.lot_id,
                plate_text=plate,
                plate_key=key,
                vehicle_id=passage.vehicle_id,
                account_id=passage.account_id,
                vehicle_class=vehicle.vehicle_class if vehicle else None,
                status="open",
                entry_at=passage.captured_at,
                entry_passage_id=passage.id,
            )
            s.add(session)
            s.flush()
        else:
            session = s.scalar(
                select(orm.ParkingSession)
                .where(
                    orm.ParkingSession.lot_id == passage.lot_id,
                    orm.ParkingSession.plate_key == key,
                    orm.ParkingSession.status == "open",
                )
                .with_for_update()
            )
            if session is not None:
                session.vehicle_id, session.account_id = passage.vehicle_id, passage.account_id
                _close_at_exit(
                    uow, lot, session, passage, vehicle.vehicle_class if vehicle else None
                )
        if session is not None:
            passage.session_id = session.id
            passage.fare_vnd = session.fare_vnd
        _audit(
            uow,
            passage,
            "correct_plate",
            actor,
            before=before,
            after=plate,
            session_id=passage.session_id,
        )
        uow.commit()
        return passage.session_id


def _close_at_exit(
    uow: UnitOfWork,
    lot: LotInfo,
    session: orm.ParkingSession,
    passage: orm.Passage,
    vehicle_class: str | None = None,
) -> None:
    """End an open session at this exit passage, priced; payment pending (or free at 0)."""
    cls = vehicle_class or session.vehicle_class or "car_le9"
    fare = price_session(uow, lot, session, cls, passage.captured_at, passage.vehicle_id)
    session.status = "closed"
    session.exit_at = max(passage.captured_at, session.entry_at)
    session.exit_passage_id = passage.id
    session.vehicle_class = cls
    session.payment = "free" if fare.amount_vnd == 0 else "pending"
    _set_fare(session, fare)


def _resolve_held(uow: UnitOfWork, passage: orm.Passage) -> None:
    """This car's other exits kept closed up to this passage are settled by it (the statement
    settlement runs when a held car's exit ends its stay)."""
    if passage.direction != "exit" or passage.plate_key is None:
        return
    uow.session.execute(
        q_resolve_held().where(PASSAGES.c.captured_at <= passage.captured_at),
        {"resolve_lot": passage.lot_id, "resolve_key": passage.plate_key, "resolve_me": passage.id},
    )


def _set_fare(session: orm.ParkingSession, fare: Fare) -> None:
    session.fare_vnd = fare.amount_vnd
    session.fare_lines = fare.explain()
    session.tariff_version = f"{fare.tariff_id}@{fare.tariff_version}"


def charge(
    uow: UnitOfWork, passage_id: int, actor: str, amount_vnd: int | None = None, note: str = ""
) -> int:
    """Debit a reviewed exit (the session's fare, or ``amount_vnd`` set by the operator).

    The operator's decision may take the balance below zero. Returns the journal entry id.
    """
    with uow:
        s = uow.session
        passage = _passage(uow, passage_id)
        if passage.direction != "exit":
            raise DomainError("only exits are charged", "only_exits_charged")
        if passage.account_id is None:
            raise DomainError(
                "correct the plate to a registered vehicle before charging", "charge_needs_vehicle"
            )
        lot = lot_info(uow, passage.lot_id, fresh=True)
        assert lot is not None
        session = s.get(orm.ParkingSession, passage.session_id) if passage.session_id else None
        if session is not None and session.payment == "charged":
            raise DomainError(f"passage {passage_id} was charged already", "already_charged")
        if session is not None and session.status == "open":
            _close_at_exit(uow, lot, session, passage)  # a car held at the barrier
        # A held flat-fare exit has no session: the fare the gate showed is the one to charge.
        default = session.fare_vnd if session else passage.fare_vnd
        amount = amount_vnd if amount_vnd is not None else default
        if not amount or amount <= 0:
            raise DomainError("nothing to charge: give an amount", "charge_needs_amount")
        tariff = uow.tariffs.in_force(lot.tariff_id, passage.captured_at)
        if session is None:
            session = orm.ParkingSession(
                lot_id=lot.id,
                plate_text=passage.plate_text,
                plate_key=passage.plate_key,
                vehicle_id=passage.vehicle_id,
                account_id=passage.account_id,
                status="closed",
                entry_at=passage.captured_at,
                exit_at=passage.captured_at,
                exit_passage_id=passage.id,
                vehicle_class=s.scalar(
                    select(orm.Vehicle.vehicle_class).where(orm.Vehicle.id == passage.vehicle_id)
                ),
            )
            s.add(session)
            s.flush()
            passage.session_id = session.id
        fare = fare_of(
            tariff, [FareLine(f"set by {actor}", 1, amount, amount)], passage.captured_at
        )
        if amount != session.fare_vnd:
            _set_fare(session, fare)
        acct = lock_account(s, passage.account_id)
        entry_id = debit_fare(
            uow,
            passage.event_id,
            acct,
            lot,
            passage.gate_id,
            session,
            fare,
        )
        session.payment, session.journal_entry_id = "charged", entry_id
        passage.fare_vnd, passage.review_status = amount, "resolved"
        _resolve_held(uow, passage)
        _audit(
            uow, passage, "charge", actor, amount_vnd=amount, journal_entry_id=entry_id, note=note
        )
        uow.commit()
        return entry_id


def waive(uow: UnitOfWork, passage_id: int, actor: str, reason: str) -> None:
    """Close the case without charging (also how an entry-side case is dismissed).

    A car held at the exit (its session still open) is let go: the stay ends at the passage.
    """
    if not reason.strip():
        raise DomainError("say why the passage is waived", "waive_needs_reason")
    with uow:
        passage = _passage(uow, passage_id)
        session = (
            uow.session.get(orm.ParkingSession, passage.session_id) if passage.session_id else None
        )
        if session is not None and session.payment == "charged":
            raise DomainError("this passage was charged; refund it instead", "refund_instead")
        if session is not None and session.status == "open" and passage.direction == "exit":
            lot = lot_info(uow, passage.lot_id, fresh=True)
            assert lot is not None
            _close_at_exit(uow, lot, session, passage)
            session.payment = "waived"
        if session is not None and session.payment == "pending":
            session.payment = "waived"
        passage.review_status = "resolved"
        _resolve_held(uow, passage)
        _audit(uow, passage, "waive", actor, reason=reason)
        uow.commit()
