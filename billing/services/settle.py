"""Settling one passage: the single entry point the gateway calls for every gate event.

One database transaction records the passage, opens or closes the parking session, prices it,
posts the journal entry and writes the outbox rows. The gate event id makes it idempotent: the
passage row is unique by event id, so a repeated or concurrent call returns the first decision,
provided it stands for the same passage (:func:`check_same_facts`).

This module records the passage and settles entries and duplicates; exits are settled in
``billing.services.settle_exit``; the state they share and the final write are in
``billing.services.settle_context``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from billing.adapters import direct, orm
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import GateDecision, PassageInput, Reason
from billing.domain.ledger import IdempotencyConflict
from billing.domain.matching import PlateEvidence
from billing.domain.model import Direction, DomainError
from billing.domain.offline import honouring_policy
from billing.domain.plates import canonical_plate, plate_key
from billing.domain.policy import LotPolicy, Outcome, plate_readable
from billing.services import lot_lists, statements
from billing.services.fares import price_session
from billing.services.lots import lot_info
from billing.services.offline import record_late_offline, record_offline
from billing.services.rows import OpenSession
from billing.services.settle_context import (
    Ctx,
    PassageRow,
    account_blocked,
    finish,
    open_session,
)
from billing.services.settle_exit import settle_exit
from billing.services.settle_match import (
    UNSURE_KEY_PREFIX,
    Matched,
    join_unsure_session,
    match_read,
)

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


class UnknownGate(DomainError):
    """The event names a lot or gate billing does not know: nothing is recorded."""


def settle_passage(uow: UnitOfWork, p: PassageInput) -> GateDecision:
    """Record and settle one passage; idempotent by ``p.event_id``."""
    _validate(p)
    for attempt in range(MAX_ATTEMPTS):
        with uow:
            # The first attempt goes straight to inserting the passage (its event id is unique);
            # a repeated event fails there and the next attempt returns the stored decision.
            if attempt:
                first = uow.connection.execute(
                    statements.q_decision(), {"event_id": p.event_id}
                ).first()
                if first is not None and first.decision:
                    check_same_facts(p, first)
                    stored = replace(GateDecision.from_dict(first.decision), replayed=True)
                    if p.offline is not None:  # the edge's decision came after billing's
                        record_late_offline(uow, p, stored)
                    return stored
            try:
                # Core statements on the unit of work's connection only: no ORM Session is
                # created (its begin, commit and close cost more than the statements' SQL).
                decision = _settle(uow, p)
                if p.offline is not None:
                    record_offline(uow, p, decision)
                uow.commit()
                return decision
            except (IntegrityError, OperationalError, InterfaceError) as exc:
                # A concurrent settlement of this event (or of the same plate) committed first,
                # or the database chose this transaction as a deadlock victim / timed it out on
                # a lock, or the connection was lost: the whole transaction is redone, and the
                # next attempt sees the result.
                if not isinstance(exc, IntegrityError) and not _retryable(exc, attempt):
                    raise
                log.info(
                    "settle %s: conflict on attempt %d (%s)",
                    p.event_id,
                    attempt + 1,
                    exc.orig.__class__.__name__ if exc.orig else exc,
                )
                uow.rollback()
    raise RuntimeError(f"could not settle {p.event_id} after {MAX_ATTEMPTS} attempts")


def check_same_facts(p: PassageInput, stored: Row[Any]) -> None:
    """A repeated event id must stand for the same passage: same lot, gate, direction, time.

    Returning the first decision to an event that differs would answer another passage with
    it (open a barrier elsewhere, for another car, for free). The plate text is left out on
    purpose: the gateway reads the frames again on a redelivery, and a newer plate model may
    read them differently; the first reading stays the one that counts.
    """
    differs = [
        f"{name} {getattr(stored, name)!r} != {got!r}"
        for name, got in (("lot_id", p.lot_id), ("gate_id", p.gate_id), ("direction", p.direction))
        if getattr(stored, name) != got
    ]
    if stored.captured_at != p.captured_at:
        differs.append(
            f"captured_at {stored.captured_at.isoformat()} != {p.captured_at.isoformat()}"
        )
    if differs:
        log.error(
            "event id %s reused for another passage (%s): refused", p.event_id, "; ".join(differs)
        )
        raise IdempotencyConflict(
            f"event id {p.event_id} was settled before for another passage: {'; '.join(differs)}"
        )


def _retryable(exc: DBAPIError, attempt: int = 0) -> bool:
    """Deadlock, serialization failure or lock timeout: safe to run the transaction again.

    So is a lost connection (a server restart, a killed backend: the pool does not ping busy
    connections, see gateway.db), once: SQLAlchemy has invalidated it and the pooled ones, and
    the next attempt gets a new connection. If it was lost during COMMIT and the commit went
    through, the next attempt finds the stored decision. A database that stays unreachable is
    the caller's to wait for (the gateway's consumer retries with a back-off).
    """
    if exc.connection_invalidated:
        return attempt == 0
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40P01", "40001", "55P03"} or "database is locked" in str(exc.orig)


def _validate(p: PassageInput) -> None:
    if not p.event_id or len(p.event_id) > 80:
        raise DomainError("event_id must be 1-80 characters")
    if p.captured_at.tzinfo is None:
        raise DomainError("captured_at must be timezone-aware")
    Direction(p.direction)
    if not 0.0 <= p.plate_confidence <= 1.0:
        raise DomainError("plate_confidence must be between 0 and 1")


def _settle(uow: UnitOfWork, p: PassageInput) -> GateDecision:
    # Core statements on the unit of work's connection: this path has no ORM objects, and
    # creates no Session (billing.adapters.uow).
    db = uow.connection
    lot = lot_info(uow, p.lot_id)
    if lot is None or p.gate_id not in lot.gates:
        lot = lot_info(uow, p.lot_id, fresh=True)  # a lot or gate added a moment ago
    if lot is None or p.gate_id not in lot.gates:
        raise UnknownGate(f"gate {p.gate_id!r} of lot {p.lot_id!r} is not registered")
    # A passage the edge already opened (the center was down) is honoured, never refused.
    policy = honouring_policy(lot.policy, p.offline)
    plate, key, readable, matched = _plate_of(db, p, policy)
    unreadable = not readable or (matched is not None and matched.conflict)
    join = matched.join_session if matched is not None and plate and key else None
    params = _params(uow, p, policy, plate, key, matched)
    found = None
    if not unreadable and join is None and db.dialect.name == "postgresql":
        # Inserting first claims the event id: a concurrent twin waits here, then fails and
        # re-reads. The look-ups ride in the same statement (one round trip).
        params["me"] = 0
        found = direct.execute(db, statements.q_insert_and_look_up(p.direction), params)
        assert found is not None  # the outer side of its join is the inserted passage
        passage_id = found.passage_id
    else:
        passage_id = db.execute(
            statements.q_insert_returning_id(orm.table_of(orm.Passage)),
            {name: params[name] for name in statements.PASSAGE_INSERT_COLUMNS},
        ).scalar_one()
    params["me"] = passage_id
    passage = PassageRow(passage_id, key)
    ctx = Ctx(uow, db, p, lot, policy, passage, plate)

    if unreadable:
        if matched is not None:
            ctx.matched_keys = tuple(r.key for r in matched.result.top)
        return _unreadable(ctx)
    if join is not None and plate and key:
        join_unsure_session(db, join, plate, key)
    vehicle, locked, twin_id = _look_up(ctx, found, params)
    if twin_id is not None:
        return _duplicate(ctx, twin_id)
    if vehicle is not None:
        ctx.account_status, ctx.account_balance = vehicle.status, vehicle.balance_vnd
        passage.vehicle_id, passage.account_id = vehicle.id, vehicle.account_id
    listed = lot_lists.at_gate(ctx)  # blacklist, whitelist, VIP: billing.domain.lists
    if listed is not None:
        return listed
    if p.direction == Direction.ENTRY.value:
        return _entry(ctx, vehicle)
    return settle_exit(ctx, vehicle, locked)


def _params(
    uow: UnitOfWork,
    p: PassageInput,
    policy: LotPolicy,
    plate: str | None,
    key: str | None,
    matched: Matched | None,
) -> dict[str, Any]:
    """The passage row's columns and the look-ups' parameters, in one dict."""
    window = timedelta(seconds=policy.duplicate_window_s)
    return {
        # the passage row (statements.PASSAGE_INSERT_COLUMNS)
        "event_id": p.event_id,
        "lot_id": p.lot_id,
        "gate_id": p.gate_id,
        "direction": p.direction,
        "captured_at": p.captured_at,
        "plate_read": (p.plate_text or None) and p.plate_text[:40],
        "plate_text": plate,
        "plate_key": key,
        "plate_confidence": p.plate_confidence,
        "needs_review": p.needs_review,
        "image_ref": p.image_ref,
        "opened": False,
        "reason": "",
        "decision": {},
        "created_at": uow.clock(),
        "match_evidence": (
            matched.evidence(p, p.evidence) if matched and p.evidence is not None else None
        ),
        # the look-ups: vehicle, account, open session, lists, the duplicate check
        # (statements._twin_id), a later passage of the plate (statements.q_later_passage)
        "key": key,
        "lot": p.lot_id,
        "twins": bool(window),
        "gate": p.gate_id,
        "lo": p.captured_at - window,
        "hi": p.captured_at + window,
        "at": p.captured_at,
    }


def _look_up(
    ctx: Ctx, found: Row[Any] | None, params: dict[str, Any]
) -> tuple[Row[Any] | None, Row[Any] | None, int | None]:
    """(vehicle, locked, twin id): the plate's active vehicle and account, for an exit its open
    session with the session and account locked (``statements.q_exit_locked``), and the
    duplicate this passage is of. ``found``: the row of ``statements.q_insert_and_look_up``
    (PostgreSQL), which read most of it with the insert."""
    db, exit_ = ctx.db, ctx.p.direction == Direction.EXIT.value
    if found is not None:
        ctx.listed_kind, ctx.later_passage, ctx.looked_up = found.listed_kind, None, True
        if exit_:
            ctx.journal_id = found.journal_id
        else:
            ctx.later_passage, ctx.new_session_id = found.later_id, found.new_session_id
        if found.id is not None:  # the vehicle (an exit: with its open session, both locked)
            return found, found if exit_ else None, found.twin_id
        # an exit without an open session: the vehicle alone
        vehicle = db.execute(statements.q_vehicle(twin=False), params).first() if exit_ else None
        return vehicle, None, found.twin_id
    locked = None
    if exit_:
        # The usual exit: one statement finds the open session, the vehicle and its account,
        # and locks the session and the account. Anything else needs the vehicle look-up.
        locked = db.execute(statements.q_exit_locked(), params).first()
    vehicle = locked or db.execute(statements.q_vehicle(), params).first()
    twin_id = vehicle.twin_id if vehicle is not None else db.scalar(statements.q_twin_id(), params)
    return vehicle, locked, twin_id


def _plate_of(
    db: Connection, p: PassageInput, policy: LotPolicy
) -> tuple[str | None, str | None, bool, Matched | None]:
    """(plate, key, readable, match): the read's own plate, or the plate matching settled on
    when the read came with the reader's evidence (billing.services.settle_match)."""
    plate = canonical_plate(p.plate_text) if p.plate_text else None
    key = plate_key(plate) if plate else None
    readable = plate_readable(policy, plate, p.plate_confidence, p.needs_review)
    if p.evidence is None:
        return plate, key, readable, None
    matched = match_read(db, p, p.evidence, policy, key if readable else None)
    if matched.plate is not None and matched.key is not None:
        return matched.plate, matched.key, True, matched
    return plate, key, readable and not matched.conflict, matched


def _unreadable(ctx: Ctx) -> GateDecision:
    """No plate to settle under: the read is unsure and matching did not decide (or the read
    is sure of one plate and the cars here point to another). An entry with the reader's
    evidence follows ``unsure_entry``; everything else ``unreadable``."""
    p, policy = ctx.p, ctx.policy
    outcome = policy.unreadable
    if p.evidence is not None and p.direction == Direction.ENTRY.value:
        if policy.unsure_entry is Outcome.OPEN_MATCH:
            return _unsure_entry(ctx, p.evidence)
        outcome = policy.unsure_entry
    return finish(ctx, Reason.PLATE_UNREADABLE, outcome is Outcome.OPEN_REVIEW, review=True)


def _duplicate(ctx: Ctx, twin_id: int) -> GateDecision:
    """A second read of a vehicle that passed this gate a moment ago."""
    twin = ctx.db.execute(statements.q_passage_outcome(), {"id": twin_id}).one()
    if ctx.policy.duplicate is Outcome.REPEAT:
        return finish(
            ctx,
            Reason.DUPLICATE,
            twin.opened,
            session_id=twin.session_id,
            account_id=twin.account_id,
        )
    return finish(ctx, Reason.DUPLICATE, True, review=True, session_id=twin.session_id)


# ---------------------------------------------------------------- entry


def _unsure_entry(ctx: Ctx, evidence: PlateEvidence) -> GateDecision:
    """Policy ``unsure_entry: open_match``: no money moves at an entry, so the car comes in.

    Its session keeps the read's hypotheses and a plate key no plate has (``~<passage id>``),
    so it never takes the place of another car's stay; the exit matches against the
    hypotheses, and the session takes the plate the exit settles.
    """
    hyps = [h for h in evidence.hypotheses if h.key]
    shown = (hyps[0].text if hyps else "?")[:20]
    session_id = ctx.db.execute(
        statements.q_insert_returning_id(orm.table_of(orm.ParkingSession)),
        {
            "lot_id": ctx.p.lot_id,
            "plate_text": shown,
            "plate_key": f"{UNSURE_KEY_PREFIX}{ctx.passage.id}",
            "vehicle_id": None,
            "account_id": None,
            "vehicle_class": None,
            "status": "open",
            "entry_at": ctx.p.captured_at,
            "entry_passage_id": ctx.passage.id,
            "entry_hypotheses": list(dict.fromkeys([*(h.key for h in hyps), *ctx.matched_keys])),
        },
    ).scalar_one()
    log.info(
        "entry %s: plate unsure, let in with %d hypotheses (session %s)",
        ctx.p.event_id,
        len(hyps),
        session_id,
    )
    return finish(ctx, Reason.ENTRY_OK, True, session_id=session_id)


def _entry(ctx: Ctx, vehicle: Row[Any] | None) -> GateDecision:
    policy = ctx.policy
    reason, review = Reason.ENTRY_OK, False
    if vehicle is None:
        outcome = policy.unknown_plate_entry
        if outcome is Outcome.DENY:
            return finish(ctx, Reason.UNKNOWN_PLATE, False)
        reason, review = Reason.UNKNOWN_PLATE_ENTRY, outcome is Outcome.OPEN_REVIEW
    elif account_blocked(vehicle, ctx):
        if policy.account_suspended is Outcome.DENY:
            return finish(ctx, Reason.ACCOUNT_SUSPENDED, False, account_id=vehicle.account_id)
        reason, review = Reason.ACCOUNT_SUSPENDED, True
    if ctx.passage.plate_key is not None and _arrived_late(ctx):
        # Its gate was offline, or the event waited for a broker: the car has passed again
        # since (left, usually: its exit was settled first, as one without an entry). A session
        # opened now would be a ghost no exit ever closes; the operator sees the entry instead.
        log.warning(
            "entry %s of %s at %s arrived after a later passage of the car: no session opened",
            ctx.p.event_id,
            ctx.plate,
            ctx.p.captured_at.isoformat(),
        )
        return finish(
            ctx,
            Reason.LATE_ENTRY,
            True,
            review=True,
            account_id=vehicle.account_id if vehicle else None,
        )
    stay = _open_stay(ctx, vehicle)
    if isinstance(stay, GateDecision):
        return stay
    session_id, replaced = stay
    if replaced:  # policy entry_while_open REPLACE: the old one went to review
        reason, review = Reason.ENTRY_WHILE_OPEN, True
    return finish(
        ctx,
        reason,
        True,
        review=review,
        session_id=session_id,
        account_id=vehicle.account_id if vehicle else None,
    )


def _open_stay(ctx: Ctx, vehicle: Row[Any] | None) -> tuple[int, bool] | GateDecision:
    """(the session this entry opens, whether it replaced an open one), or the decision on an
    entry while the plate has a session open that the lot's policy keeps."""
    if ctx.new_session_id is not None:
        # PostgreSQL, no open session seen: the finishing statement opens it (one round trip)
        return _queue_session(ctx, vehicle, ctx.new_session_id), False
    # Most entries find no open session: try to open one straight away (a no-op when one is
    # open, which the unique index on open sessions detects, waiting for a concurrent entry).
    session_id = _insert_session(ctx, vehicle, if_none_open=True)
    replaced = False
    if session_id is None:
        current = open_session(ctx)
        if current is not None and current.held and _end_held_stay(ctx, current, vehicle):
            current = None  # that stay is over: this entry opens the car's next one
        if current is not None:
            outcome = ctx.policy.entry_while_open
            if outcome is Outcome.DENY:
                return finish(
                    ctx, Reason.ENTRY_WHILE_OPEN, False, review=True, session_id=current.id
                )
            if outcome is Outcome.KEEP:
                return finish(ctx, Reason.ENTRY_WHILE_OPEN, True, session_id=current.id)
            # REPLACE: the old one goes to review
            ctx.db.execute(statements.q_void_session(), {"sid": current.id})
            replaced = True
        session_id = _insert_session(ctx, vehicle)
        assert session_id is not None
    return session_id, replaced


def _arrived_late(ctx: Ctx) -> bool:
    """Has the plate passed a gate of this lot after this entry was captured?"""
    if ctx.looked_up:  # read with the passage's insert (statements.q_insert_and_look_up)
        return ctx.later_passage is not None
    later = ctx.db.execute(
        statements.q_later_passage(),
        {
            "lot": ctx.p.lot_id,
            "at": ctx.p.captured_at,
            "key": ctx.passage.plate_key,
            "me": ctx.passage.id,
        },
    ).first()
    return later is not None


def _end_held_stay(ctx: Ctx, held: OpenSession, vehicle: Row[Any] | None) -> bool:
    """Close the stay of a car kept at the exit barrier that now enters again.

    The car was at the exit when it was held, and it has left since (an operator let it out,
    or it slipped through): that stay ended at its last held exit. It is closed there, priced,
    payment pending: that exit's case stays in the review queue, where the operator charges or
    waives it as a stay of its own; the car's earlier held exits of the stay are resolved with
    it. Voiding it instead, as for an ordinary entry while a session is open, left the held
    exit pointing at a void session that a later charge marked "charged": a fare no closed
    session accounts for, which reconciliation reported. False when no held exit is found.
    """
    last = ctx.db.execute(statements.q_last_held_exit(), {"sid": held.id}).first()
    if last is None:
        return False
    vehicle_class = held.vehicle_class or (vehicle.vehicle_class if vehicle else None) or "car_le9"
    fare = price_session(ctx.uow, ctx.lot, held, vehicle_class, last.captured_at, last.vehicle_id)
    ctx.db.execute(
        statements.q_close_session(),
        {
            "sid": held.id,
            "session_vehicle_class": vehicle_class,
            "session_exit_at": max(last.captured_at, held.entry_at),
            "session_exit_passage_id": last.id,
            "session_fare_vnd": fare.amount_vnd,
            "session_fare_lines": fare.explain(),
            "session_tariff_version": f"{fare.tariff_id}@{fare.tariff_version}",
            "session_payment": "free" if fare.amount_vnd == 0 else "pending",
            "session_journal_entry_id": None,
        },
    )
    ctx.db.execute(
        statements.q_resolve_held().where(statements.PASSAGES.c.captured_at <= last.captured_at),
        {"resolve_lot": ctx.p.lot_id, "resolve_key": ctx.passage.plate_key, "resolve_me": last.id},
    )
    log.info(
        "entry %s: the car held at exit passage %s entered again; that stay is closed there "
        "(%s VND, payment pending review)",
        ctx.p.event_id,
        last.id,
        fare.amount_vnd,
    )
    return True


def _session_columns(ctx: Ctx, vehicle: Row[Any] | None) -> dict[str, Any]:
    """The columns of the session this entry opens (its status is ``open``)."""
    return {
        "lot_id": ctx.p.lot_id,
        "plate_text": ctx.plate,
        "plate_key": ctx.passage.plate_key,
        "vehicle_id": vehicle.id if vehicle else None,
        "account_id": vehicle.account_id if vehicle else None,
        "vehicle_class": vehicle.vehicle_class if vehicle else None,
        "entry_at": ctx.p.captured_at,
        "entry_passage_id": ctx.passage.id,
    }


def _queue_session(ctx: Ctx, vehicle: Row[Any] | None, session_id: int) -> int:
    """Queue this entry's session for ``finish`` (``statements.q_open_drawn_session``)."""
    columns = _session_columns(ctx, vehicle)
    params = {f"new_session_{name}": value for name, value in columns.items()}
    ctx.writes.append(("open_session", {"new_session_id": session_id, **params}))
    return session_id


def _insert_session(
    ctx: Ctx, vehicle: Row[Any] | None, *, if_none_open: bool = False
) -> int | None:
    """Open a session for this entry; ``if_none_open``: None when the plate has one open."""
    stmt = (
        statements.q_insert_session_if_none_open(ctx.db.dialect.name)
        if if_none_open
        else statements.q_insert_returning_id(orm.table_of(orm.ParkingSession))
    )
    session_id: int | None = ctx.db.execute(
        stmt, {**_session_columns(ctx, vehicle), "status": "open"}
    ).scalar()
    return session_id
