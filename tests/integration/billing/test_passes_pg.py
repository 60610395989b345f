"""Monthly passes at the gate on the real PostgreSQL: the pass look-up takes every pass valid
on some date of the stay (the pricing itself: tests/unit/billing/test_passes_pricing.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing.adapters.uow import UnitOfWork
from billing.services import buy_monthly_pass, seed_demo, top_up
from billing.services.seed import CENTRAL_LOT
from gateway import migrate
from gateway.db import make_engine, make_session_factory
from tests.unit.billing.conftest import Lane, vehicle_id
from tests.unit.billing.test_passes_pricing import (
    AFTER_NOVEMBER,
    DECEMBER,
    ENTRY,
    EXIT,
    NOVEMBER,
    minutes_from_t0,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def pg(pg_url: str) -> Iterator[tuple[UnitOfWork, Lane]]:
    migrate.upgrade(pg_url, "billing@head")
    engine = make_engine(pg_url)
    uow = UnitOfWork(make_session_factory(engine))
    demo = seed_demo(uow)
    top_up(uow, demo.accounts["logistics"], 20_000_000, "demo-bank", "passes-test")
    yield uow, Lane(uow, demo, CENTRAL_LOT)
    engine.dispose()


def test_passes_cover_their_own_dates_and_renewals_chain(pg: tuple[UnitOfWork, Lane]) -> None:
    uow, lane = pg
    car, truck = vehicle_id(uow, "30E24680"), vehicle_id(uow, "29C45678")
    buy_monthly_pass(uow, car, CENTRAL_LOT, "day_night", NOVEMBER[0], "car-nov")
    buy_monthly_pass(uow, truck, CENTRAL_LOT, "day_night", NOVEMBER[0], "truck-nov")
    buy_monthly_pass(uow, truck, CENTRAL_LOT, "day_night", DECEMBER[0], "truck-dec")
    for plate in ("30E-246.80", "29C-456.78"):
        lane.enter(plate, minutes_from_t0(ENTRY))
    car_exit = lane.leave("30E-246.80", minutes_from_t0(EXIT))
    truck_exit = lane.leave("29C-456.78", minutes_from_t0(EXIT))
    assert (car_exit.open, car_exit.fare_vnd) == (True, AFTER_NOVEMBER)
    assert (truck_exit.reason, truck_exit.fare_vnd) == ("exit_free", 0)
