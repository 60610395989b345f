"""Statements of the settlement hot path, built once and executed with parameters.

Building a select and its cache key costs more CPU than running it on a warm connection.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Select, Table, Update, bindparam, exists, insert, select, update

from billing.adapters import orm


@functools.cache
def q_decision() -> Select[Any]:
    return select(orm.Passage.decision).where(orm.Passage.event_id == bindparam("event_id"))


@functools.cache
def q_twin() -> Any:
    return (
        select(orm.Passage.opened, orm.Passage.session_id, orm.Passage.account_id)
        .where(
            orm.Passage.gate_id == bindparam("gate"),
            orm.Passage.plate_key == bindparam("key"),
            orm.Passage.captured_at >= bindparam("lo"),
            orm.Passage.captured_at <= bindparam("hi"),
            orm.Passage.id != bindparam("me"),
            # a kept-closed barrier means the vehicle is still there: its next event is a retry
            orm.Passage.opened.is_(True),
        )
        .order_by(orm.Passage.id)
        .limit(1)
    )


@functools.cache
def q_vehicle() -> Any:
    return (
        select(
            orm.Vehicle.id,
            orm.Vehicle.account_id,
            orm.Vehicle.vehicle_class,
            orm.TransportAccount.status,
            orm.TransportAccount.balance_vnd,
            # Most vehicles hold no pass: then pricing needs no look-up of passes at all.
            exists()
            .where(
                orm.MonthlyPass.vehicle_id == orm.Vehicle.id,
                orm.MonthlyPass.lot_id == bindparam("lot"),
            )
            .label("has_pass"),
        )
        .join(orm.TransportAccount, orm.TransportAccount.id == orm.Vehicle.account_id)
        .where(orm.Vehicle.plate_key == bindparam("key"), orm.Vehicle.active.is_(True))
    )


@functools.cache
def q_open_session(lock: bool) -> Select[Any]:
    stmt = select(orm.ParkingSession).where(
        orm.ParkingSession.lot_id == bindparam("lot"),
        orm.ParkingSession.plate_key == bindparam("key"),
        orm.ParkingSession.status == "open",
    )
    return stmt.with_for_update() if lock else stmt


@functools.cache
def q_insert_returning_id(table: Table) -> Any:
    # A Core insert on the table skips the ORM's bulk machinery: these rows need none of it.
    return insert(table).returning(table.c.id)


@functools.cache
def q_finish_passage() -> Update:
    p = orm.table_of(orm.Passage)
    return (
        update(p)
        .where(p.c.id == bindparam("pid"))
        .values(
            vehicle_id=bindparam("vehicle_id"),
            account_id=bindparam("account_id"),
            session_id=bindparam("session_id"),
            opened=bindparam("opened"),
            reason=bindparam("reason"),
            fare_vnd=bindparam("fare_vnd"),
            review_status=bindparam("review_status"),
            decision=bindparam("decision", type_=p.c.decision.type),
        )
    )


@functools.cache
def q_open_session_and_account() -> Any:
    return (
        select(orm.ParkingSession, orm.TransportAccount)
        .join(orm.TransportAccount, orm.TransportAccount.id == bindparam("acct"))
        .where(
            orm.ParkingSession.lot_id == bindparam("lot"),
            orm.ParkingSession.plate_key == bindparam("key"),
            orm.ParkingSession.status == "open",
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


@functools.cache
def q_passes() -> Select[Any]:
    return select(orm.MonthlyPass.kind).where(
        orm.MonthlyPass.vehicle_id == bindparam("vehicle"),
        orm.MonthlyPass.lot_id == bindparam("lot"),
        orm.MonthlyPass.valid_from <= bindparam("day"),
        orm.MonthlyPass.valid_until >= bindparam("day"),
    )
