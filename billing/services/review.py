"""The review queue: passages the machine could not settle, and what an operator does with them.

Every action is stored with who did it, when and what changed (``billing_review_actions``).
A charge uses the same idempotency key as an automatic exit debit (``exit:<event id>``), so a
passage can never be charged twice, whichever way it was charged.

A car kept at the exit barrier (low balance, suspended account) keeps its session open; the
operator's charge or waive of that passage ends the stay at the passage's time, and settles the
car's other held passages with it (one car, one case). If the car enters again before that,
settlement closes the held stay at its last held exit (payment pending), and that exit is
charged or waived as a stay of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.model import DomainError
from billing.domain.plates import canonical_plate, plate_key
from billing.domain.tariffs import Fare, FareLine, fare_of
from billing.services.fares import debit_fare, price_session
from billing.services.ledger import lock_account
from billing.services.lots import LotInfo, lot_info
from billing.services.statements import HELD_REASONS, PASSAGES, q_resolve_held


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

    A correction that names another car than the one read never takes over the read car's
    stay: a car held at this exit under the misread plate is that car's stay, which is released
    (the car at the barrier was another one); a stay that ended at another passage is that
    passage's. A charged stay is refused (refund it first: the money left the read car's
    account), and so is an entry of a car that already has an open stay at the lot.
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
        session = _session_to_correct(uow, passage, key)
        passage.plate_text, passage.plate_key = plate, key
        passage.vehicle_id = vehicle.id if vehicle else None
        passage.account_id = vehicle.account_id if vehicle else None
        lot = lot_info(uow, passage.lot_id, fresh=True)
        assert lot is not None
        if session is not None:
            if session.status == "open" and session.plate_key != key:
                _refuse_second_stay(uow, passage.lot_id, plate, key, session.id)
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
            _refuse_second_stay(uow, passage.lot_id, plate, key)
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
            # Only a stay that had begun by this exit can end here: a later entry of the same
            # car is its next stay, and a stay would otherwise end before it began.
            session = s.scalar(
                select(orm.ParkingSession)
                .where(
                    orm.ParkingSession.lot_id == passage.lot_id,
                    orm.ParkingSession.plate_key == key,
                    orm.ParkingSession.status == "open",
                    orm.ParkingSession.entry_at <= passage.captured_at,
                )
                .with_for_update()
            )
            if session is not None:
                session.vehicle_id, session.account_id = passage.vehicle_id, passage.account_id
                _close_at_exit(
                    uow, lot, session, passage, vehicle.vehicle_class if vehicle else None
                )
        passage.session_id = session.id if session is not None else None
        if session is not None:
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


def _session_to_correct(
    uow: UnitOfWork, passage: orm.Passage, key: str
) -> orm.ParkingSession | None:
    """The session the corrected plate is written to, or None when the passage is to be
    settled afresh under the new plate (its old link dropped)."""
    session = (
        uow.session.get(orm.ParkingSession, passage.session_id) if passage.session_id else None
    )
    if session is None or session.status == "void" or session.plate_key == key:
        return session if session is not None and session.status != "void" else None
    if session.payment == "charged":
        raise DomainError(
            f"passage {passage.id} was charged to account {session.account_id}: "
            "refund it before correcting the plate",
            "refund_before_correcting",
        )
    if passage.direction == "exit" and session.status == "open":
        _release_hold(uow, session, passage)  # another car was at the barrier
        return None
    if passage.direction == "exit" and session.exit_passage_id not in (None, passage.id):
        return None  # that stay ended at its own exit; this one was another car's
    return session


def _release_hold(uow: UnitOfWork, session: orm.ParkingSession, passage: orm.Passage) -> None:
    """The read car was not the one held at this exit: its session is no longer held for
    this passage (still held if the car was kept at the barrier by another passage)."""
    held_elsewhere = uow.session.scalar(
        select(orm.Passage.id).where(
            orm.Passage.session_id == session.id,
            orm.Passage.id != passage.id,
            orm.Passage.direction == "exit",
            orm.Passage.opened.is_(False),
            orm.Passage.reason.in_(HELD_REASONS),
        )
    )
    if held_elsewhere is None and session.payment == "unpaid":
        session.payment = None


def _refuse_second_stay(
    uow: UnitOfWork, lot_id: str, plate: str, key: str, besides: int | None = None
) -> None:
    """One open stay per car and lot: a correction may not open (or move) a second one."""
    other = uow.session.scalar(
        select(orm.ParkingSession.id).where(
            orm.ParkingSession.lot_id == lot_id,
            orm.ParkingSession.plate_key == key,
            orm.ParkingSession.status == "open",
            orm.ParkingSession.id != (besides or 0),
        )
    )
    if other is not None:
        raise DomainError(
            f"{plate} already has an open stay at {lot_id} (session {other}): "
            "settle or waive that one first",
            "open_stay_exists",
        )


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


def _stay_of(uow: UnitOfWork, passage: orm.Passage) -> orm.ParkingSession | None:
    """The session an action on this exit passage settles: open (the car is held at this
    barrier) or closed at this passage. A session closed at another passage is that passage's
    case, and a void one is no stay at all: None for both."""
    if not passage.session_id:
        return None
    session = uow.session.get(orm.ParkingSession, passage.session_id)
    if session is None or session.status == "void":
        return None
    if session.status == "closed" and session.exit_passage_id not in (None, passage.id):
        return None
    return session


def _stay_ended_elsewhere(uow: UnitOfWork, passage: orm.Passage) -> int | None:
    """The passage that closed this passage's session, when it is another one."""
    if not passage.session_id:
        return None
    session = uow.session.get(orm.ParkingSession, passage.session_id)
    if session is None or session.status != "closed":
        return None
    other = session.exit_passage_id
    return other if other not in (None, passage.id) else None


def charge(
    uow: UnitOfWork, passage_id: int, actor: str, amount_vnd: int | None = None, note: str = ""
) -> int:
    """Debit a reviewed exit (the session's fare, or ``amount_vnd`` set by the operator).

    Only a stay that this passage ends is charged here: a car held at this barrier (its
    session still open), or a session closed at this passage. A stay that ended at another
    passage is charged there; an exit with no stay of its own (a flat-fare exit, a session
    voided since) is charged as a closed stay of its own, so the charge always has a closed
    session that reconciliation finds. The operator's decision may take the balance below
    zero. Returns the journal entry id.
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
        elsewhere = _stay_ended_elsewhere(uow, passage)
        if elsewhere is not None:
            raise DomainError(
                f"the stay of passage {passage_id} ended at passage {elsewhere}: "
                "charge or waive that one",
                "stay_ended_elsewhere",
            )
        voided = s.get(orm.ParkingSession, passage.session_id) if passage.session_id else None
        session = _stay_of(uow, passage)
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
            entered = voided.entry_at if voided is not None else passage.captured_at
            session = orm.ParkingSession(
                lot_id=lot.id,
                plate_text=passage.plate_text,
                plate_key=passage.plate_key,
                vehicle_id=passage.vehicle_id,
                account_id=passage.account_id,
                status="closed",
                entry_at=min(entered, passage.captured_at),
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
        # Only this passage's own stay: one that ended elsewhere is that passage's case.
        session = _stay_of(uow, passage)
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


@dataclass(frozen=True)
class MatchCandidate:
    """One of the matches kept on an exit passage (``billing_passages.match_evidence``)."""

    key: str
    plate: str
    posterior: float
    session_id: int | None


def match_candidates(uow: UnitOfWork, passage_id: int) -> list[MatchCandidate]:
    """The top matches kept on an exit passage (best first): plate, posterior, session."""
    with uow:
        row = uow.session.get(orm.Passage, passage_id)
        if row is None:
            raise DomainError(f"no passage {passage_id}", "not_found")
        return _candidates(row)


def _candidates(passage: orm.Passage) -> list[MatchCandidate]:
    ev = passage.match_evidence or {}
    sessions = list(ev.get("top_sessions") or [])
    out = []
    for i, (key, posterior) in enumerate(ev.get("top") or []):
        sid = sessions[i] if i < len(sessions) else None
        out.append(MatchCandidate(key, canonical_plate(key) or key, float(posterior), sid))
    return out


def confirm_match(uow: UnitOfWork, passage_id: int, key: str, actor: str) -> int:
    """An operator confirms one of an exit's top matches: the stay is settled under that plate
    and charged, once. Returns the journal entry of the charge.

    Idempotent: confirming again the match already charged returns the same entry (a double
    submit of the form, a retried request), and never charges twice; any other second action
    on a settled case is refused. A match with an unsure entry's session joins that session up
    first (it takes the plate), as the exit would have done alone.
    """
    with uow:
        passage = _passage(uow, passage_id)
        if passage.direction != "exit":
            raise DomainError("only an exit's match is confirmed", "only_exits_charged")
        chosen = next((c for c in _candidates(passage) if c.key == plate_key(key)), None)
        if chosen is None:
            raise DomainError(
                f"{key} is not one of the matches of passage {passage_id}: correct the plate",
                "not_a_match",
            )
        done = _charged_already(uow, passage, chosen.key)
        if done is not None:
            return done
        if passage.review_status != "pending":
            raise DomainError(f"passage {passage_id} is not waiting for review", "not_pending")
        if chosen.session_id is not None:
            _join_unsure(uow, chosen)
        uow.commit()
    correct_plate(uow, passage_id, chosen.plate, actor)
    try:
        return charge(uow, passage_id, actor, note=f"match confirmed ({chosen.posterior:.4f})")
    except DomainError as exc:
        if exc.code != "already_charged":
            raise
        with uow:  # a concurrent confirmation charged it first
            done = _charged_already(uow, _passage(uow, passage_id), chosen.key)
        if done is None:
            raise
        return done


def _charged_already(uow: UnitOfWork, passage: orm.Passage, key: str) -> int | None:
    if passage.plate_key != key or not passage.session_id:
        return None
    session = uow.session.get(orm.ParkingSession, passage.session_id)
    if session is None or session.payment != "charged" or session.journal_entry_id is None:
        return None
    return int(session.journal_entry_id)


def _join_unsure(uow: UnitOfWork, chosen: MatchCandidate) -> None:
    """An unsure entry's session (plate key ``~<passage>``) takes the confirmed plate."""
    session = uow.session.get(orm.ParkingSession, chosen.session_id)
    if session is None or session.status != "open" or not session.plate_key.startswith("~"):
        return
    vehicle = uow.session.scalar(
        select(orm.Vehicle).where(orm.Vehicle.plate_key == chosen.key, orm.Vehicle.active.is_(True))
    )
    session.plate_key, session.plate_text = chosen.key, chosen.plate
    if vehicle is not None:
        session.vehicle_id, session.account_id = vehicle.id, vehicle.account_id
        session.vehicle_class = vehicle.vehicle_class
