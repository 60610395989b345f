"""Settling an exit: price the stay, then debit it or apply the lot's policy (review, a car
held at the barrier, a flat fare for an exit without entry). Runs inside the settlement
transaction of ``billing.services.settle``, on its :class:`~billing.services.settle_context.Ctx`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from billing.adapters import orm
from billing.domain.decisions import GateDecision, Reason
from billing.domain.policy import Outcome, debit_allowed
from billing.domain.tariffs import Fare, FareLine, fare_of
from billing.services import statements
from billing.services.autotopup import auto_topup_request
from billing.services.fares import debit_fare, price_session
from billing.services.rows import LockedAccount, OpenSession
from billing.services.settle_context import (
    Ctx,
    account_blocked,
    finish,
    hold,
    lock_account,
    open_session,
    session_of,
)


def settle_exit(ctx: Ctx, vehicle: Row[Any] | None, locked: Row[Any] | None) -> GateDecision:
    """``locked``: the row of ``statements.q_exit_locked`` (open session, vehicle, account)."""
    policy = ctx.policy
    session: OpenSession | None = None
    if locked is not None:
        session = session_of(locked)
        hold(ctx, LockedAccount.from_row(locked))
    elif vehicle is None:
        session = open_session(ctx)
    if vehicle is None:
        outcome = policy.unknown_plate_exit
        if session is None or outcome is Outcome.DENY:
            return finish(
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
        return finish(
            ctx,
            Reason.UNKNOWN_PLATE,
            True,
            review=True,
            session_id=session.id,
            fare=fare.amount_vnd,
        )
    if account_blocked(vehicle, ctx):
        opened = policy.account_suspended is Outcome.OPEN_REVIEW
        if session is not None and opened:
            fare = price_session(
                ctx.uow, ctx.lot, session, vehicle.vehicle_class, ctx.p.captured_at, vehicle.id
            )
            _close(session, ctx, fare, "pending")
        elif session is not None:
            _hold_car(ctx, session)
        # Kept closed or let out, the case is the operator's: review either way.
        return finish(
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
            return finish(
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


def _charge_flat(ctx: Ctx, vehicle: Row[Any]) -> GateDecision:
    """Exit without a recorded entry, charged the lot's flat fare.

    The debit is decided before any session exists: a session is inserted only when it is
    closed in this same transaction (charged, or pending review). A denied flat fare must leave
    no open session behind: the car's next camera trigger would find it and price a stay of
    zero minutes at 0, opening the barrier for free. The retry is simply another exit without
    entry, denied again or charged if the balance now covers it.
    """
    amount = ctx.policy.exit_without_entry_fare_vnd
    tariff = ctx.uow.tariffs.in_force(ctx.lot.tariff_id, ctx.p.captured_at)
    fare = fare_of(
        tariff, [FareLine("exit without entry: flat fare", 1, amount, amount)], ctx.p.captured_at
    )
    # No open session, so q_exit_locked found nothing and the account is not locked yet.
    acct = lock_account(ctx, vehicle.account_id)
    return _debit(ctx, None, acct, fare, Reason.EXIT_WITHOUT_ENTRY, vehicle)


def _flat_session(ctx: Ctx, vehicle: Row[Any]) -> OpenSession:
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


def _hold_car(ctx: Ctx, session: OpenSession) -> None:
    """The car stays at the exit barrier and its session stays open, so it can pay itself on
    a retry once topped up (or an operator charges or waives it from the review queue)."""
    if not session.held:
        ctx.writes.append(("hold_session", {"held_sid": session.id}))


def _close(
    session: OpenSession,
    ctx: Ctx,
    fare: Fare,
    payment: str,
    journal_entry_id: int | None = None,
) -> None:
    """Queue the session's closing UPDATE (written by finish, with the passage's decision).

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


def close_free(ctx: Ctx, session: OpenSession, fare: Fare, account_id: int | None) -> GateDecision:
    """A stay that costs nothing (a free tariff, a whitelisted car): closed at 0, barrier open."""
    _close(session, ctx, fare, "free")
    return finish(ctx, Reason.EXIT_FREE, True, session_id=session.id, fare=0, account_id=account_id)


def _charge(
    ctx: Ctx, session: OpenSession, vehicle: Row[Any], fare: Fare, reason: Reason | None
) -> GateDecision:
    if fare.amount_vnd == 0:
        return close_free(ctx, session, fare, vehicle.account_id)
    acct = ctx.locked_account or lock_account(ctx, vehicle.account_id)
    return _debit(ctx, session, acct, fare, reason)


def _opened_offline(ctx: Ctx) -> bool:
    return ctx.p.offline is not None and ctx.p.offline.opened


def _request_auto_topup(ctx: Ctx, acct: LockedAccount, need_vnd: int) -> None:
    """Queue an auto top-up if one is due; the payment provider is a remote party, asked by a
    worker after this commit, never while the gate waits for its decision."""
    request = auto_topup_request(acct, ctx.p.event_id, need_vnd)
    if request is not None:
        ctx.outbox_rows.append(request)


def _debit(
    ctx: Ctx,
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
        # Out already (the edge opened offline), beyond the credit it granted: to review.
        if policy.low_balance is Outcome.OPEN_REVIEW or _opened_offline(ctx):
            if session is None:
                assert vehicle is not None
                session = _flat_session(ctx, vehicle)
            _close(session, ctx, fare, "pending")
            return finish(
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
        return finish(
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
        fare,
        fresh_key=True,
        queue=ctx.outbox_rows,
        queued_entry=(ctx.journal_id, ctx.writes) if ctx.journal_id is not None else None,
    )
    _close(session, ctx, fare, "charged", entry_id)
    _request_auto_topup(ctx, acct, 0)
    if reason is None:
        reason = Reason.EXIT_OVERDRAFT if acct.balance_vnd < 0 else Reason.EXIT_PAID
    return finish(
        ctx,
        reason,
        True,
        session_id=session.id,
        fare=fare.amount_vnd,
        balance=acct.balance_vnd,
        account_id=acct.id,
    )
