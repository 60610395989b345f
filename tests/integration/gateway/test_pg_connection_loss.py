"""Pooled PostgreSQL connections killed between two settlements (gateway.db pings only idle ones).

The next settlement, through the consumer's retry path, must succeed and debit exactly once.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.exc import OperationalError

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import PassageInput
from billing.domain.model import DomainError, Owner, OwnerKind
from billing.domain.tariffs import local_zone
from billing.services import (
    add_vehicle,
    create_account,
    get_account,
    seed_demo,
    settle_passage,
    top_up,
)
from billing.services.seed import CENTRAL_LOT, DemoData
from gateway import migrate
from gateway.bootstrap import Container
from gateway.consumer import Consumer, Passage
from gateway.db import make_engine, make_session_factory
from gateway.metrics import Metrics
from gateway.mqtt.client import MqttConfig

pytestmark = pytest.mark.integration
HN = local_zone("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=HN)
_serial = count(1)


@pytest.fixture(scope="module")
def demo(pg_url_module: str) -> DemoData:
    migrate.upgrade(pg_url_module, "billing@head")
    engine = make_engine(pg_url_module)
    try:
        return seed_demo(UnitOfWork(make_session_factory(engine)))
    finally:
        engine.dispose()


@pytest.fixture()
def disconnects() -> list[bool]:
    """One entry per database error the engine saw: whether it was a lost connection."""
    return []


def engine_for(url: str, ping_idle_s: float, disconnects: list[bool]) -> Engine:
    engine = make_engine(url, ping_idle_s=ping_idle_s)

    @event.listens_for(engine, "handle_error")
    def _seen(ctx: Any) -> None:
        disconnects.append(ctx.is_disconnect)

    return engine


def kill_other_backends(url: str) -> int:
    """Terminate every other connection to the test database; how many there were."""
    admin = make_engine(url)
    try:
        with admin.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        admin.dispose()
    return int(killed)


def consumer_for(engine: Engine) -> Consumer:
    """The gateway's consumer with billing's settle, as gateway.bootstrap wires them."""
    container = Container(Any, engine, make_session_factory(engine), Metrics())  # type: ignore[arg-type]
    return Consumer(
        MqttConfig(),
        settle=container.settle,
        read_plate=None,
        permanent_errors=(DomainError,),
        metrics=container.metrics,
    )


def gate_passage(
    demo: DemoData, event_id: str, direction: str, plate: str, minutes: int
) -> Passage:
    entry_gate, exit_gate = demo.gates[CENTRAL_LOT]
    return Passage(
        event_id,
        CENTRAL_LOT,
        entry_gate if direction == "entry" else exit_gate,
        direction,
        T0 + timedelta(minutes=minutes),
        plate,
        0.97,
        False,
        None,
    )


def new_car(engine: Engine, tag: str) -> tuple[int, str]:
    uow = UnitOfWork(make_session_factory(engine))
    acct = create_account(uow, Owner(OwnerKind.PERSON, f"Loss {tag}"))
    n = next(_serial)
    plate = f"30K-{n // 100 % 1000:03d}.{n % 100:02d}"
    add_vehicle(uow, acct, plate, "car_le9")
    top_up(uow, acct, 200_000, "test-bank", f"loss-{tag}")
    return acct, plate


def settle(consumer: Consumer, p: Passage) -> Any:
    return asyncio.run(consumer._settle_with_retry(p))


def fare_entries(engine: Engine, event_id: str) -> int:
    uow = UnitOfWork(make_session_factory(engine))
    with uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(orm.JournalEntry)
                .where(orm.JournalEntry.idempotency_key == f"exit:{event_id}")
            )
            or 0
        )


@pytest.mark.parametrize(
    ("ping_idle_s", "lost_on_use"),
    [
        # Busy connection, never pinged: the exit's first statement meets the dead connection,
        # settle_passage retries on a new one.
        (3600.0, True),
        # Idle connection: the checkout ping finds it dead and the pool hands out a new one.
        (0.0, False),
    ],
    ids=["busy-retried", "idle-pinged"],
)
def test_settle_after_pooled_connections_are_killed(
    pg_url_module: str,
    demo: DemoData,
    disconnects: list[bool],
    ping_idle_s: float,
    lost_on_use: bool,
) -> None:
    engine = engine_for(pg_url_module, ping_idle_s, disconnects)
    try:
        acct, plate = new_car(engine, f"{ping_idle_s}")
        consumer = consumer_for(engine)
        tag = f"loss-{ping_idle_s}"
        entry = settle(consumer, gate_passage(demo, f"{tag}-in", "entry", plate, 0))
        assert entry.open and entry.reason == "entry_ok"

        assert kill_other_backends(pg_url_module) >= 1
        exit_event = gate_passage(demo, f"{tag}-out", "exit", plate, 61)
        decision = settle(consumer, exit_event)

        assert (decision.open, decision.reason, decision.fare_vnd) == (True, "exit_paid", 50_000)
        assert disconnects == ([True] if lost_on_use else [])
        assert consumer.metrics.failures._value.get() == 0  # settle_passage retried by itself
        assert fare_entries(engine, exit_event.event_id) == 1
        view = get_account(UnitOfWork(make_session_factory(engine)), acct)
        assert view is not None and view.balance_vnd == 150_000
        # The same event again (a redelivery) returns the decision, no second debit.
        assert settle(consumer, exit_event) == decision
        assert fare_entries(engine, exit_event.event_id) == 1
    finally:
        engine.dispose()


def test_settle_when_the_database_stays_unreachable_raises(
    pg_url_module: str, demo: DemoData, disconnects: list[bool]
) -> None:
    """settle_passage retries a lost connection once; further failures are the caller's."""
    engine = engine_for(pg_url_module, 3600.0, disconnects)
    try:
        _acct, plate = new_car(engine, "twice")
        uow = UnitOfWork(make_session_factory(engine))
        entry = gate_passage(demo, "loss-twice-in", "entry", plate, 0)
        settle_passage(uow, PassageInput(**asdict(entry)))
        exit_event = PassageInput(**asdict(gate_passage(demo, "loss-twice-out", "exit", plate, 61)))

        def kill_at_begin(*_args: Any) -> None:
            kill_other_backends(pg_url_module)

        # Every transaction meets a dead connection: the one retry cannot succeed either.
        event.listen(engine, "begin", kill_at_begin)
        try:
            with pytest.raises(OperationalError):
                settle_passage(uow, exit_event)
        finally:
            event.remove(engine, "begin", kill_at_begin)
        assert disconnects == [True, True]
        assert fare_entries(engine, "loss-twice-out") == 0
    finally:
        engine.dispose()
