"""An entry event that reaches billing after its car has left (the entry lane was offline, or its
event waited in a broker that restarted; the gate resends it until it is answered).

The exit was settled first, as an exit without entry. The entry, when it comes, must not open a
session: the car is gone, and an open session would be a ghost that occupancy counts, that the
car's next entry finds "already inside" (and voids, sending it to review), and that no exit will
ever close. It is recorded, answered and put in front of an operator next to the exit's case.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.services.seed import DemoData

from .conftest import Lane

CAR = "30A-123.45"


def sessions(uow: UnitOfWork, *where: ColumnElement[bool]) -> int:
    with uow:
        stmt = select(func.count()).select_from(orm.ParkingSession).where(*where)
        return int(uow.session.scalar(stmt) or 0)


def test_an_entry_arriving_after_its_cars_exit_opens_no_session(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    out = lane.leave(CAR, 90)  # the exit lane's event came first
    assert (out.reason, out.review) == ("exit_without_entry", True)
    late = lane.enter(CAR, 0)  # captured an hour and a half before the exit, received now
    assert (late.open, late.reason, late.review) == (True, "late_entry", True)
    assert late.session_id is None and late.fare_vnd is None
    assert sessions(uow, orm.ParkingSession.status == "open") == 0
    # the car's next visit is an ordinary one: no ghost to find "already inside"
    again = lane.enter(CAR, 120)
    assert (again.reason, again.review) == ("entry_ok", False)
    paid = lane.leave(CAR, 240)
    assert paid.reason == "exit_paid" and paid.session_id == again.session_id
    assert sessions(uow, orm.ParkingSession.status == "open") == 0
    assert sessions(uow, orm.ParkingSession.status == "void") == 0


def test_an_entry_older_than_the_cars_current_stay_leaves_that_stay_alone(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    """Entries at 0 (delayed) and 120 (on time); the exit between them was never seen. The late
    one must not void the car's current session and open one that began two hours ago."""
    current = lane.enter(CAR, 120)
    late = lane.enter(CAR, 0)
    assert late.reason == "late_entry" and late.session_id is None
    paid = lane.leave(CAR, 180)
    assert paid.reason == "exit_paid" and paid.session_id == current.session_id
    assert sessions(uow, orm.ParkingSession.status == "void") == 0


def test_an_entry_in_order_still_opens_its_session(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    first = lane.enter(CAR, 0)
    assert first.reason == "entry_ok" and first.session_id is not None
    assert lane.leave(CAR, 90).session_id == first.session_id
    second = lane.enter(CAR, 100)  # after the exit: a new stay
    assert second.reason == "entry_ok" and second.session_id not in (None, first.session_id)
