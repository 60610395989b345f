"""Settling one passage: the single entry point the gateway calls for every gate event.

One database transaction records the passage, opens or closes the parking session, prices it,
posts the journal entry and writes the outbox rows. The gate event id makes it idempotent: the
passage row is unique by event id, so a repeated or concurrent call returns the first decision,
provided it stands for the same passage (:func:`check_same_facts`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from billing.adapters import orm, outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import GateDecision, PassageInput, Reason, display_text
from billing.domain.ledger import IdempotencyConflict
from billing.domain.model import AccountStatus, Direction, DomainError
from billing.domain.plates import canonical_plate, plate_key
from billing.domain.policy import LotPolicy, Outcome, debit_allowed, plate_readable
from billing.domain.tariffs import Fare, FareLine, vat_included
from billing.services import statements
from billing.services.autotopup import auto_topup_request
from billing.services.fares import debit_fare, price_session
from billing.services.lots import LotInfo, lot_info
from billing.services.rows import LockedAccount, OpenSession

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
                first = uow.session.execute(
                    statements.q_decision(), {"event_id": p.event_id}
                ).first()
                if first is not None and first.decision:
                    check_same_facts(p, first)
                    return replace(GateDecision.from_dict(first.decision), replayed=True)
            try:
                # Explicit flushes only: autoflush before every query costs more than the query.
                with uow.session.no_autoflush:
                    decision = _settle(uow, p)
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


@dataclass
class _Passage:
    """The passage row being settled: inserted first, updated once at the end (Core, no ORM)."""

    id: int
    plate_key: str | None
    vehicle_id: int | None = None
    account_id: int | None = None


@dataclass
class _Ctx:
    uow: UnitOfWork
    db: Connection
    p: PassageInput
    lot: LotInfo
    policy: LotPolicy
    passage: _Passage
    plate: str | None
    account_status: str | None = None
    account_balance: int | None = None
    locked_account: LockedAccount | None = None
    locked_balance: int | None = None  # the locked account's balance when it was read
    outbox_rows: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    # statements.TRAILING_WRITES queued for _finish, with their parameters
    writes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _settle(uow: UnitOfWork, p: PassageInput) -> GateDecision:
    # Core statements run on the connection: the session's per-statement bookkeeping is for ORM
    # objects, and this path has none.
    db = uow.session.connection()
    lot = lot_info(uow, p.lot_id)
    if lot is None or p.gate_id not in lot.gates:
        lot = lot_info(uow, p.lot_id, fresh=True)  # a lot or gate added a moment ago
    if lot is None or p.gate_id not in lot.gates:
        raise UnknownGate(f"gate {p.gate_id!r} of lot {p.lot_id!r} is not registered")
    policy = lot.policy
    plate = canonical_plate(p.plate_text) if p.plate_text else None
    key = plate_key(plate) if plate else None
    # Inserting first claims the event id: a concurrent twin waits here, then fails and re-reads.
    passage_id = db.execute(
        statements.q_insert_returning_id(orm.table_of(orm.Passage)),
        {
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
        },
    ).scalar_one()
    passage = _Passage(passage_id, key)
    ctx = _Ctx(uow, db, p, lot, policy, passage, plate)

    if not plate_readable(policy, plate, p.plate_confidence, p.needs_review):
        return _finish(
            ctx, Reason.PLATE_UNREADABLE, policy.unreadable is Outcome.OPEN_REVIEW, review=True
        )
    window = timedelta(seconds=policy.duplicate_window_s)
    params = {
        "key": key,
        "lot": p.lot_id,
        # the duplicate check (statements._twin_id)
        "twins": bool(window),
        "gate": p.gate_id,
        "lo": p.captured_at - window,
        "hi": p.captured_at + window,
        "me": passage_id,
    }
    locked = None
    if p.direction == Direction.EXIT.value:
        # The usual exit: one statement finds the open session, the vehicle and its account,
        # and locks the session and the account. Anything else needs the vehicle look-up.
        locked = db.execute(statements.q_exit_locked(), params).first()
    vehicle = locked or db.execute(statements.q_vehicle(), params).first()
    twin_id = vehicle.twin_id if vehicle is not None else db.scalar(statements.q_twin_id(), params)
    if twin_id is not None:
        return _duplicate(ctx, twin_id)
    if vehicle is not None:
        ctx.account_status, ctx.account_balance = vehicle.status, vehicle.balance_vnd
        passage.vehicle_id, passage.account_id = vehicle.id, vehicle.account_id
    if p.direction == Direction.ENTRY.value:
        return _entry(ctx, vehicle)
    return _exit(ctx, vehicle, locked)


def _duplicate(ctx: _Ctx, twin_id: int) -> GateDecision:
    """A second read of a vehicle that passed this gate a moment ago."""
    twin = ctx.db.execute(statements.q_passage_outcome(), {"id": twin_id}).one()
    if ctx.policy.duplicate is Outcome.REPEAT:
        return _finish(
            ctx,
            Reason.DUPLICATE,
            twin.opened,
            session_id=twin.session_id,
            account_id=twin.account_id,
        )
    return _finish(ctx, Reason.DUPLICATE, True, review=True, session_id=twin.session_id)


def _open_session(ctx: _Ctx) -> OpenSession | None:
    """The plate's open session in this lot, locked."""
    row = ctx.db.execute(
        statements.q_open_session(), {"lot": ctx.p.lot_id, "key": ctx.passage.plate_key}
    ).first()
    return _session_of(row) if row is not None else None


def _session_of(row: Row[Any]) -> OpenSession:
    """From a row of ``statements.SESSION_COLUMNS``."""
    return OpenSession(
        row.session_id,
        row.session_plate_text,
        row.session_vehicle_class,
        row.session_entry_at,
        held=row.session_payment == "unpaid",
    )


def _lock_account(ctx: _Ctx, account_id: int) -> LockedAccount:
    row = ctx.db.execute(statements.q_lock_account(), {"acct": account_id}).first()
    if row is None:
        raise LookupError(f"transport account {account_id} does not exist")
    return _hold(ctx, LockedAccount.from_row(row))


def _hold(ctx: _Ctx, acct: LockedAccount) -> LockedAccount:
    """Keep the locked account row: _finish writes its balance back if the postings moved it."""
    ctx.locked_account, ctx.locked_balance = acct, acct.balance_vnd
    return acct


def _account_blocked(vehicle: Row[Any] | None, ctx: _Ctx) -> bool:
    return vehicle is not None and ctx.account_status != AccountStatus.ACTIVE.value


# ---------------------------------------------------------------- entry


def _entry(ctx: _Ctx, vehicle: Row[Any] | None) -> GateDecision:
    policy = ctx.policy
    reason, review = Reason.ENTRY_OK, False
    if vehicle is None:
        outcome = policy.unknown_plate_entry
        if outcome is Outcome.DENY:
            return _finish(ctx, Reason.UNKNOWN_PLATE, False)
        reason, review = Reason.UNKNOWN_PLATE_ENTRY, outcome is Outcome.OPEN_REVIEW
    elif _account_blocked(vehicle, ctx):
        if policy.account_suspended is Outcome.DENY:
            return _finish(ctx, Reason.ACCOUNT_SUSPENDED, False, account_id=vehicle.account_id)
        reason, review = Reason.ACCOUNT_SUSPENDED, True
    # Most entries find no open session: try to open one straight away (a no-op when one is
    # open, which the unique index on open sessions detects, waiting for a concurrent entry).
    session_id = _insert_session(ctx, vehicle, if_none_open=True)
    if session_id is None:
        current = _open_session(ctx)
        if current is not None:
            outcome = policy.entry_while_open
            if outcome is Outcome.DENY:
                return _finish(
                    ctx, Reason.ENTRY_WHILE_OPEN, False, review=True, session_id=current.id
                )
            if outcome is Outcome.KEEP:
                return _finish(ctx, Reason.ENTRY_WHILE_OPEN, True, session_id=current.id)
            # REPLACE: the old one goes to review
            ctx.db.execute(statements.q_void_session(), {"sid": current.id})
            reason, review = Reason.ENTRY_WHILE_OPEN, True
        session_id = _insert_session(ctx, vehicle)
        assert session_id is not None
    return _finish(
        ctx,
        reason,
        True,
        review=review,
        session_id=session_id,
        account_id=vehicle.account_id if vehicle else None,
    )


def _insert_session(
    ctx: _Ctx, vehicle: Row[Any] | None, *, if_none_open: bool = False
) -> int | None:
    """Open a session for this entry; ``if_none_open``: None when the plate has one open."""
    stmt = (
        statements.q_insert_session_if_none_open(ctx.db.dialect.name)
        if if_none_open
        else statements.q_insert_returning_id(orm.table_of(orm.ParkingSession))
    )
    session_id: int | None = ctx.db.execute(
        stmt,
        {
            "lot_id": ctx.p.lot_id,
            "plate_text": ctx.plate,
            "plate_key": ctx.passage.plate_key,
            "vehicle_id": vehicle.id if vehicle else None,
            "account_id": vehicle.account_id if vehicle else None,
            "vehicle_class": vehicle.vehicle_class if vehicle else None,
            "status": "open",
            "entry_at": ctx.p.captured_at,
            "entry_passage_id": ctx.passage.id,
        },
    ).scalar()
    return session_id


def _write_finish(ctx: _Ctx, passage_params: dict[str, Any]) -> None:
    """The queued writes, the passage's decision and the outbox rows: one statement on
    PostgreSQL (``statements.q_finish``), one each on SQLite."""
    acct = ctx.locked_account
    if acct is not None and acct.balance_vnd != ctx.locked_balance:
        # the row is locked: write what the fare's posting did to it
        ctx.writes.append(
            ("set_balance", {"acct": acct.id, "account_balance_vnd": acct.balance_vnd})
        )
    outbox_params = outbox.insert_params(ctx.outbox_rows)
    if ctx.db.dialect.name == "postgresql":
        stmt = statements.q_finish(tuple(name for name, _ in ctx.writes), len(ctx.outbox_rows))
        params = passage_params | outbox_params
        for _, write_params in ctx.writes:
            params |= write_params
        ctx.db.execute(stmt, params)
        return
    for name, write_params in ctx.writes:
        ctx.db.execute(statements.TRAILING_WRITES[name](), write_params)
    ctx.db.execute(statements.q_finish_passage(), passage_params)
    ctx.db.execute(outbox.insert_statement(len(ctx.outbox_rows)), outbox_params)


# ---------------------------------------------------------------- exit


def _exit(ctx: _Ctx, vehicle: Row[Any] | None, locked: Row[Any] | None) -> GateDecision:
    """``locked``: the row of ``statements.q_exit_locked`` (open session, vehicle, account)."""
    policy = ctx.policy
    session: OpenSession | None = None
    if locked is not None:
        session = _session_of(locked)
        _hold(ctx, LockedAccount.from_row(locked))
    elif vehicle is None:
        session = _open_session(ctx)
    if vehicle is None:
        outcome = policy.unknown_plate_exit
        if session is None or outcome is Outcome.DENY:
            return _finish(
                ctx,
                Reason.UNKNOWN_PLATE,
                outcome is Outcome.OPEN_REVIEW,
                review=True,
                session_id=session.id if session else None,
            )
        fare = price_session(
            ctx.uow, ctx.lot, session, session.vehicle_class or "car_le9", ctx.p.captured_at, None
        )
        _close(session, ctx, fare, "pending")
        return _finish(
            ctx,
            Reason.UNKNOWN_PLATE,
            True,
            review=True,
            session_id=session.id,
            fare=fare.amount_vnd,
        )
    if _account_blocked(vehicle, ctx):
        opened = policy.account_suspended is Outcome.OPEN_REVIEW
        if session is not None and opened:
            fare = price_session(
                ctx.uow, ctx.lot, session, vehicle.vehicle_class, ctx.p.captured_at, vehicle.id
            )
            _close(session, ctx, fare, "pending")
        elif session is not None:
            _hold_car(ctx, session)
        # Kept closed or let out, the case is the operator's: review either way.
        return _finish(
            ctx,
            Reason.ACCOUNT_SUSPENDED,
            opened,
            review=True,
            session_id=session.id if session else None,
            account_id=vehicle.account_id,
        )
    if session is None:
        outcome = policy.exit_without_entry
        if outcome is not Outcome.CHARGE_FLAT:
            return _finish(
                ctx,
                Reason.EXIT_WITHOUT_ENTRY,
                outcome is Outcome.OPEN_REVIEW,
                review=True,
                account_id=vehicle.account_id,
            )
        return _charge_flat(ctx, vehicle)
    if session.vehicle_class is None:  # entered unknown, registered since
        session.vehicle_class = vehicle.vehicle_class
        ctx.db.execute(
            statements.q_set_session_class(),
            {"sid": session.id, "vehicle_class": vehicle.vehicle_class},
        )
    fare = price_session(
        ctx.uow,
        ctx.lot,
        session,
        vehicle.vehicle_class,
        ctx.p.captured_at,
        vehicle.id,
        bool(vehicle.has_pass),
    )
    return _charge(ctx, session, vehicle, fare, None)


def _charge_flat(ctx: _Ctx, vehicle: Row[Any]) -> GateDecision:
    """Exit without a recorded entry, charged the lot's flat fare.

    The debit is decided before any session exists: a session is inserted only when it is
    closed in this same transaction (charged, or pending review). A denied flat fare must leave
    no open session behind: the car's next camera trigger would find it and price a stay of
    zero minutes at 0, opening the barrier for free. The retry is simply another exit without
    entry, denied again or charged if the balance now covers it.
    """
    amount = ctx.policy.exit_without_entry_fare_vnd
    tariff = ctx.uow.tariffs.in_force(ctx.lot.tariff_id, ctx.p.captured_at)
    fare = Fare(
        amount,
        vat_included(amount, tariff.vat_percent),
        (FareLine("exit without entry: flat fare", 1, amount, amount),),
        tariff.id,
        tariff.version,
    )
    # No open session, so q_exit_locked found nothing and the account is not locked yet.
    acct = _lock_account(ctx, vehicle.account_id)
    return _debit(ctx, None, acct, fare, Reason.EXIT_WITHOUT_ENTRY, vehicle)


def _flat_session(ctx: _Ctx, vehicle: Row[Any]) -> OpenSession:
    """The session of a flat-fare exit, inserted only to be closed by the same transaction."""
    assert ctx.plate is not None  # a vehicle was found by it
    session_id = ctx.db.execute(
        statements.q_insert_returning_id(orm.table_of(orm.ParkingSession)),
        {
            "lot_id": ctx.p.lot_id,
            "plate_text": ctx.plate,
            "plate_key": ctx.passage.plate_key,
            "vehicle_id": vehicle.id,
            "account_id": vehicle.account_id,
            "vehicle_class": vehicle.vehicle_class,
            "status": "open",
            "entry_at": ctx.p.captured_at,
            "entry_passage_id": None,
        },
    ).scalar_one()
    # held: earlier denials of this car's flat fare are settled when this session closes
    return OpenSession(session_id, ctx.plate, vehicle.vehicle_class, ctx.p.captured_at, held=True)


def _hold_car(ctx: _Ctx, session: OpenSession) -> None:
    """The car stays at the exit barrier and its session stays open, so it can pay itself on
    a retry once topped up (or an operator charges or waives it from the review queue)."""
    if not session.held:
        ctx.writes.append(("hold_session", {"held_sid": session.id}))


def _close(
    session: OpenSession,
    ctx: _Ctx,
    fare: Fare,
    payment: str,
    journal_entry_id: int | None = None,
) -> None:
    """Queue the session's closing UPDATE (written by _finish, with the passage's decision).

    A session whose car was held at the barrier before: this exit ends the stay, so the review
    cases of those denials are resolved with it.
    """
    session.exit_at = max(ctx.p.captured_at, session.entry_at)
    if session.held:
        ctx.writes.append(
            (
                "resolve_held",
                {
                    "resolve_lot": ctx.p.lot_id,
                    "resolve_key": ctx.passage.plate_key,
                    "resolve_me": ctx.passage.id,
                },
            )
        )
    ctx.writes.append(
        (
            "close_session",
            {
                "sid": session.id,
                "session_vehicle_class": session.vehicle_class,
                "session_exit_at": session.exit_at,
                "session_exit_passage_id": ctx.passage.id,
                "session_fare_vnd": fare.amount_vnd,
                "session_fare_lines": fare.explain(),
                "session_tariff_version": f"{fare.tariff_id}@{fare.tariff_version}",
                "session_payment": payment,
                "session_journal_entry_id": journal_entry_id,
            },
        )
    )


def _charge(
    ctx: _Ctx, session: OpenSession, vehicle: Row[Any], fare: Fare, reason: Reason | None
) -> GateDecision:
    if fare.amount_vnd == 0:
        _close(session, ctx, fare, "free")
        return _finish(
            ctx,
            Reason.EXIT_FREE,
            True,
            session_id=session.id,
            fare=0,
            account_id=vehicle.account_id,
        )
    acct = ctx.locked_account or _lock_account(ctx, vehicle.account_id)
    return _debit(ctx, session, acct, fare, reason)


def _request_auto_topup(ctx: _Ctx, acct: LockedAccount, need_vnd: int) -> None:
    """Queue an auto top-up if one is due; the payment provider is a remote party, asked by a
    worker after this commit, never while the gate waits for its decision."""
    row = auto_topup_request(acct, ctx.p.event_id, need_vnd)
    if row is not None:
        ctx.outbox_rows.append(row)


def _debit(
    ctx: _Ctx,
    session: OpenSession | None,
    acct: LockedAccount,
    fare: Fare,
    reason: Reason | None,
    vehicle: Row[Any] | None = None,
) -> GateDecision:
    """Debit ``fare`` or apply the lot's low-balance policy.

    ``session`` None: a flat-fare exit without entry; its session is made (by
    :func:`_flat_session`, from ``vehicle``) only when this passage also closes it.
    """
    policy = ctx.policy
    if not debit_allowed(policy, acct.balance_vnd, fare.amount_vnd):
        # The lot's policy decides this exit now; the top-up is for the car's retry.
        _request_auto_topup(ctx, acct, fare.amount_vnd)
        if policy.low_balance is Outcome.OPEN_REVIEW:
            if session is None:
                assert vehicle is not None
                session = _flat_session(ctx, vehicle)
            _close(session, ctx, fare, "pending")
            return _finish(
                ctx,
                Reason.LOW_BALANCE,
                True,
                review=True,
                session_id=session.id,
                fare=fare.amount_vnd,
                balance=acct.balance_vnd,
                account_id=acct.id,
            )
        if session is not None:
            _hold_car(ctx, session)
        return _finish(
            ctx,
            Reason.LOW_BALANCE,
            False,
            review=True,
            session_id=session.id if session else None,
            fare=fare.amount_vnd,
            balance=acct.balance_vnd,
            account_id=acct.id,
        )
    if session is None:
        assert vehicle is not None
        session = _flat_session(ctx, vehicle)
    session.exit_at = max(ctx.p.captured_at, session.entry_at)  # for the invoice request
    entry_id = debit_fare(
        ctx.uow,
        ctx.p.event_id,
        acct,
        ctx.lot,
        ctx.p.gate_id,
        session,
        fare.amount_vnd,
        fare.vat_vnd,
        fresh_key=True,
        queue=ctx.outbox_rows,
    )
    _close(session, ctx, fare, "charged", entry_id)
    _request_auto_topup(ctx, acct, 0)
    if reason is None:
        reason = Reason.EXIT_OVERDRAFT if acct.balance_vnd < 0 else Reason.EXIT_PAID
    return _finish(
        ctx,
        reason,
        True,
        session_id=session.id,
        fare=fare.amount_vnd,
        balance=acct.balance_vnd,
        account_id=acct.id,
    )


def _finish(
    ctx: _Ctx,
    reason: Reason,
    opened: bool,
    *,
    review: bool = False,
    session_id: int | None = None,
    fare: int | None = None,
    balance: int | None = None,
    account_id: int | None = None,
) -> GateDecision:
    """Store the decision on the passage and queue the barrier command."""
    passage = ctx.passage
    if balance is None and account_id is not None and account_id == passage.account_id:
        balance = ctx.account_balance
    elif balance is None and account_id is not None:
        balance = ctx.db.scalar(statements.q_balance(), {"acct": account_id})
    decision = GateDecision(
        open=opened,
        reason=reason.value,
        display=display_text(reason, ctx.plate, fare, balance),
        plate=ctx.plate,
        fare_vnd=fare,
        balance_vnd=balance,
        session_id=session_id,
        passage_id=passage.id,
        review=review,
    )
    passage_params = {
        "pid": passage.id,
        "passage_vehicle_id": passage.vehicle_id,
        "passage_account_id": passage.account_id,
        "passage_session_id": session_id,
        "passage_opened": opened,
        "passage_reason": reason.value,
        "passage_fare_vnd": fare,
        "passage_review_status": "pending" if review else None,
        "passage_decision": decision.to_dict(),
    }
    ctx.outbox_rows.append(
        (
            outbox.BARRIER_COMMAND,
            ctx.p.event_id,
            {
                "event_id": ctx.p.event_id,
                "lot_id": ctx.p.lot_id,
                "gate_id": ctx.p.gate_id,
                "open": opened,
                "display": decision.display,
                "reason": reason.value,
                "plate": ctx.plate,
                "fare_vnd": fare,
                "balance_vnd": balance,
            },
        )
    )
    _write_finish(ctx, passage_params)
    if review or reason is not Reason.ENTRY_OK:
        log.info(
            "passage %s at %s/%s: %s open=%s review=%s",
            ctx.p.event_id,
            ctx.p.lot_id,
            ctx.p.gate_id,
            reason.value,
            opened,
            review,
        )
    return decision
