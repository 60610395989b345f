"""Per-lot plate lists as data: kept by operators, consulted by settlement at every passage.

The rules (what a blacklist, a whitelist and a VIP tag do at a gate) are pure functions in
``billing.domain.lists``; here are the writes an operator makes and the one look-up that
settlement does per passage (``at_gate``), by the lot and the plate's key (unique together).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import GateDecision, Reason
from billing.domain.lists import ListKind, blocks, free_exit, list_kind, listed_policy
from billing.domain.model import Direction, DomainError
from billing.domain.plates import canonical_plate, plate_key
from billing.domain.tariffs import FareLine, fare_of
from billing.services.settle_context import Ctx, finish, open_session
from billing.services.settle_exit import _hold_car, close_free

LISTS = orm.LotListEntry.__table__


@dataclass(frozen=True)
class ListEntry:
    id: int
    lot_id: str
    kind: str
    plate_text: str
    note: str
    added_by: str
    added_at: datetime


def _entry(row: orm.LotListEntry) -> ListEntry:
    return ListEntry(
        row.id, row.lot_id, row.kind, row.plate_text, row.note, row.added_by, row.added_at
    )


def add_entry(
    uow: UnitOfWork, lot_id: str, plate_text: str, kind: str, actor: str, note: str = ""
) -> ListEntry:
    """Put a plate on one of the lot's lists (a plate is on at most one list per lot)."""
    which = list_kind(kind)
    plate = canonical_plate(plate_text)
    if plate is None:
        raise DomainError(f"{plate_text!r} is not a valid Vietnamese plate", "plate_invalid")
    if not actor.strip():
        raise DomainError("list changes need the operator's name")
    with uow:
        if uow.session.get(orm.Lot, lot_id) is None:
            raise DomainError(f"no lot {lot_id!r}", "not_found")
        row = orm.LotListEntry(
            lot_id=lot_id,
            kind=which.value,
            plate_text=plate,
            plate_key=plate_key(plate),
            note=note.strip()[:200],
            added_by=actor,
            added_at=uow.clock(),
        )
        uow.session.add(row)
        try:
            uow.session.flush()
        except IntegrityError:
            raise DomainError(
                f"{plate} is on a list of {lot_id} already", "list_entry_exists"
            ) from None
        entry = _entry(row)
        uow.commit()
    return entry


def remove_entry(uow: UnitOfWork, entry_id: int) -> ListEntry:
    with uow:
        row = uow.session.get(orm.LotListEntry, entry_id)
        if row is None:
            raise DomainError(f"no list entry {entry_id}", "not_found")
        entry = _entry(row)
        uow.session.delete(row)
        uow.commit()
    return entry


def entries(uow: UnitOfWork, lot_id: str | None = None, kind: str | None = None) -> list[ListEntry]:
    """The plates on the lists, by lot, list and plate (one lot, one list, or all)."""
    stmt = select(orm.LotListEntry).order_by(
        orm.LotListEntry.lot_id, orm.LotListEntry.kind, orm.LotListEntry.plate_key
    )
    if lot_id:
        stmt = stmt.where(orm.LotListEntry.lot_id == lot_id)
    if kind:
        stmt = stmt.where(orm.LotListEntry.kind == list_kind(kind).value)
    with uow:
        return [_entry(row) for row in uow.session.scalars(stmt)]


def listed(ctx: Ctx) -> ListKind | None:
    """The list this passage's plate is on at its lot, if any."""
    if ctx.passage.plate_key is None:
        return None
    if ctx.looked_up:  # read with the passage's insert (statements.q_insert_and_look_up)
        kind: object = ctx.listed_kind
    else:
        kind = ctx.db.scalar(
            select(LISTS.c.kind).where(
                LISTS.c.lot_id == ctx.p.lot_id, LISTS.c.plate_key == ctx.passage.plate_key
            )
        )
    return ListKind(kind) if isinstance(kind, str) and kind in ListKind._value2member_map_ else None


def at_gate(ctx: Ctx) -> GateDecision | None:
    """Settle a listed plate's passage here (blacklist; a whitelisted exit), or adjust the
    lot's policy for it (whitelist, VIP) and return None for the usual flow to go on."""
    kind = listed(ctx)
    if kind is None:
        return None
    exit_ = ctx.p.direction == Direction.EXIT.value
    if blocks(kind):
        session = open_session(ctx) if exit_ else None
        if session is not None:
            _hold_car(ctx, session)  # the car inside waits for staff, as a held car does
        return finish(
            ctx,
            Reason.LISTED_PLATE,
            False,
            review=exit_,
            session_id=session.id if session else None,
            account_id=ctx.passage.account_id,
        )
    ctx.policy = listed_policy(kind, ctx.policy)
    if exit_ and free_exit(kind):
        return _free_exit(ctx)
    return None


def _free_exit(ctx: Ctx) -> GateDecision:
    """A whitelisted car leaves without a charge; its stay is closed at 0 for the record."""
    session = open_session(ctx)
    if session is None:
        return finish(ctx, Reason.EXIT_FREE, True, fare=0, account_id=ctx.passage.account_id)
    tariff = ctx.uow.tariffs.in_force(ctx.lot.tariff_id, session.entry_at)
    fare = fare_of(tariff, [FareLine("whitelist: no charge", 1, 0, 0)], ctx.p.captured_at)
    return close_free(ctx, session, fare, ctx.passage.account_id)
