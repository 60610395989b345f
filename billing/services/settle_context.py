"""One settlement's working state and its single finishing write.

``billing.services.settle`` (entries, duplicates) and ``billing.services.settle_exit`` (exits)
decide a passage on a :class:`Ctx`, queueing the session and balance writes and the outbox rows
on it; :func:`finish` stores the decision with all of them (one statement on PostgreSQL).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row

from billing.adapters import direct, outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import GateDecision, PassageInput, Reason, display_text
from billing.domain.events import BarrierDecided, OutboxEvent
from billing.domain.model import AccountStatus
from billing.domain.policy import LotPolicy
from billing.services import statements
from billing.services.lots import LotInfo
from billing.services.rows import LockedAccount, OpenSession

log = logging.getLogger("billing.services.settle")  # one logger for the whole settlement


@dataclass
class PassageRow:
    """The passage row being settled: inserted first, updated once at the end (Core, no ORM)."""

    id: int
    plate_key: str | None
    vehicle_id: int | None = None
    account_id: int | None = None


@dataclass
class Ctx:
    """One passage being settled: its input and lot, what was read and locked so far, and the
    writes and outbox rows queued for :func:`finish`."""

    uow: UnitOfWork
    db: Connection
    p: PassageInput
    lot: LotInfo
    policy: LotPolicy
    passage: PassageRow
    plate: str | None
    account_status: str | None = None
    account_balance: int | None = None
    locked_account: LockedAccount | None = None
    locked_balance: int | None = None  # the locked account's balance when it was read
    # Plates matching found likely although the read disagreed: an unsure entry keeps them
    # beside the read's hypotheses, so the exit can still join the stay up.
    matched_keys: tuple[str, ...] = ()
    # Read with the passage's insert on PostgreSQL (statements.q_insert_and_look_up), else
    # looked up when needed (lot_lists.listed, settle._arrived_late): ``looked_up`` says which.
    looked_up: bool = False
    listed_kind: str | None = None
    later_passage: int | None = None  # an entry's: a later passage of the plate at the lot
    journal_id: int | None = None  # an exit's: the id its fare's journal entry takes, if drawn
    new_session_id: int | None = None  # an entry's: the id of the session it opens, if drawn
    outbox_rows: list[OutboxEvent] = field(default_factory=list)
    # statements.TRAILING_WRITES queued for finish, with their parameters
    writes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def open_session(ctx: Ctx) -> OpenSession | None:
    """The plate's open session in this lot, locked."""
    row = ctx.db.execute(
        statements.q_open_session(), {"lot": ctx.p.lot_id, "key": ctx.passage.plate_key}
    ).first()
    return session_of(row) if row is not None else None


def session_of(row: Row[Any]) -> OpenSession:
    """From a row of ``statements.SESSION_COLUMNS``."""
    return OpenSession(
        row.session_id,
        row.session_plate_text,
        row.session_vehicle_class,
        row.session_entry_at,
        held=row.session_payment == "unpaid",
    )


def lock_account(ctx: Ctx, account_id: int) -> LockedAccount:
    row = ctx.db.execute(statements.q_lock_account(), {"acct": account_id}).first()
    if row is None:
        raise LookupError(f"transport account {account_id} does not exist")
    return hold(ctx, LockedAccount.from_row(row))


def hold(ctx: Ctx, acct: LockedAccount) -> LockedAccount:
    """Keep the locked account row: finish writes its balance back if the postings moved it."""
    ctx.locked_account, ctx.locked_balance = acct, acct.balance_vnd
    return acct


def account_blocked(vehicle: Row[Any] | None, ctx: Ctx) -> bool:
    return vehicle is not None and ctx.account_status != AccountStatus.ACTIVE.value


def _write_finish(ctx: Ctx, passage_params: dict[str, Any]) -> None:
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
        direct.execute(ctx.db, stmt, params)  # the driver's cursor: billing.adapters.direct
        return
    for name, write_params in ctx.writes:
        ctx.db.execute(statements.trailing_write(name), write_params)
    ctx.db.execute(statements.q_finish_passage(), passage_params)
    ctx.db.execute(outbox.insert_statement(len(ctx.outbox_rows)), outbox_params)


def finish(
    ctx: Ctx,
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
        BarrierDecided(
            ctx.p.event_id,
            ctx.p.lot_id,
            ctx.p.gate_id,
            opened,
            decision.display,
            reason.value,
            ctx.plate,
            fare,
            balance,
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
