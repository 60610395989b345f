"""Billing service tests on an in-memory SQLite database (fast; the same code runs on PostgreSQL
in tests/integration/billing). ``PARKING_BILLING_UNIT_ON_PG=1`` runs these tests on a fresh
PostgreSQL database each (slow), whose settlement path reads with fewer statements."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.pool import StaticPool

from billing.adapters import orm
from billing.adapters.orm import metadata
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import GateDecision, PassageInput
from billing.domain.tariffs import local_zone
from billing.services import seed_demo, settle_passage
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT, DemoData
from gateway.db import make_session_factory

HN = local_zone("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=HN)


@pytest.fixture()
def uow() -> Iterator[UnitOfWork]:
    if os.environ.get("PARKING_BILLING_UNIT_ON_PG"):
        # The same tests on PostgreSQL, whose settlement path differs (one-statement look-ups)
        from tests.conftest import _fresh_pg_database

        databases = _fresh_pg_database()
        pg = create_engine(next(databases))
        metadata.create_all(pg)
        yield UnitOfWork(make_session_factory(pg))
        pg.dispose()
        next(databases, None)
        return
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _fk(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    metadata.create_all(engine)
    yield UnitOfWork(make_session_factory(engine))
    engine.dispose()


@pytest.fixture()
def demo(uow: UnitOfWork) -> DemoData:
    return seed_demo(uow)


def vehicle_id(uow: UnitOfWork, plate_key: str) -> int:
    """The id of the registered vehicle with this plate key (e.g. "30E24680")."""
    with uow:
        vid = uow.session.scalar(select(orm.Vehicle.id).where(orm.Vehicle.plate_key == plate_key))
    assert vid is not None
    return int(vid)


class Lane:
    """Drive a lot's gates like a camera would: unique event ids, times relative to T0."""

    def __init__(self, uow: UnitOfWork, demo: DemoData, lot: str = CENTRAL_LOT) -> None:
        self.uow, self.lot = uow, lot
        self.entry_gate, self.exit_gate = demo.gates[lot]
        self._ids = count(1)

    def passage(
        self,
        direction: str,
        plate: str | None,
        minutes: float = 0,
        *,
        confidence: float = 0.97,
        needs_review: bool = False,
        event_id: str | None = None,
    ) -> GateDecision:
        gate = self.entry_gate if direction == "entry" else self.exit_gate
        return settle_passage(
            self.uow,
            PassageInput(
                event_id=event_id or f"{self.lot}-{next(self._ids)}",
                lot_id=self.lot,
                gate_id=gate,
                direction=direction,
                captured_at=T0 + timedelta(minutes=minutes),
                plate_text=plate,
                plate_confidence=confidence,
                needs_review=needs_review,
            ),
        )

    def enter(self, plate: str | None, minutes: float = 0, **kw: Any) -> GateDecision:
        return self.passage("entry", plate, minutes, **kw)

    def leave(self, plate: str | None, minutes: float, **kw: Any) -> GateDecision:
        return self.passage("exit", plate, minutes, **kw)


@pytest.fixture()
def lane(uow: UnitOfWork, demo: DemoData) -> Lane:
    return Lane(uow, demo, CENTRAL_LOT)


@pytest.fixture()
def airport(uow: UnitOfWork, demo: DemoData) -> Lane:
    return Lane(uow, demo, AIRPORT_LOT)


def a_day(lane: Lane, airport: Lane) -> None:
    """An ordinary day at both demo lots (fares 55,000 central, 45,000 airport)."""
    lane.enter("30A-123.45", 0)
    lane.enter("29-B1 678.90", 5)
    lane.enter("30E-246.80", 10)
    lane.leave("30A-123.45", 61)  # 50,000
    lane.leave("29-B1 678.90", 120)  # 5,000
    airport.enter("29C-456.78", 0)
    airport.leave("29C-456.78", 100)  # 25,000 + 2 * 10,000
    airport.enter("51F-111.22", 0)  # unknown: open and review
    airport.leave(None, 30)  # unreadable: denied, review
