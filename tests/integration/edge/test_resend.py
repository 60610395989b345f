"""On the real Mosquitto: a lane keeps every event until its decision arrives, resending it with
the same id, so an event the broker acknowledged but nobody received still gets decided, and it
is settled once however many copies arrive."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.protocol import BarrierCommand
from tests.integration.edge.lanes import events_seen, lane, wait_until
from tests.integration.gateway.test_consumer_mqtt import (
    FakeBilling,
    Running,
    make_consumer,
    start,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def lot() -> str:
    return f"R{uuid.uuid4().hex[:10]}"


async def test_events_the_broker_took_but_nobody_received_are_resent_until_decided(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    """No gateway subscribed when they went out: the broker acknowledged them and dropped them.
    Before, the gate treated the PUBACK as the end and those passages were never settled."""
    gate = lane(mosquitto, lot, "in-1", tmp_path, resend_after_s=0.5, resend_max_s=1.0)
    billing = FakeBilling()
    running = None
    try:
        events = [gate.capture(f"30A-{i:03d}.01", camera_text=True) for i in range(3)]
        await wait_for(lambda: gate.backlog() == 0)  # all acknowledged by the broker...
        assert gate.counts().unanswered == 3  # ...and none answered
        running = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
        await wait_for(lambda: all(gate.decision(e.event_id) for e in events), 20)
        assert [eid for _, eid in billing.order] == [e.event_id for e in events]
        assert gate.unanswered() == [] and gate.counts().unanswered == 0
    finally:
        gate.stop()
        if running is not None:
            running.stop.set()
            await running.task


def test_later_events_go_out_in_order_while_an_earlier_one_waits_for_its_decision(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    with events_seen(mosquitto, lot) as seen:
        gate = lane(mosquitto, lot, "in-2", tmp_path, resend_after_s=0.4, resend_max_s=0.8)
        try:
            first = gate.capture("30A-000.02", camera_text=True)
            wait_until(lambda: seen.count(first.event_id) >= 2, what="a resend")
            later = [gate.capture(f"30A-{i:03d}.02", camera_text=True) for i in range(1, 4)]
            wait_until(lambda: all(e.event_id in seen for e in later), what="later events")
            wait_until(lambda: seen.count(first.event_id) >= 4, what="more resends")
        finally:
            gate.stop()
    firsts = list(dict.fromkeys(seen))  # each event's first copy, in arrival order
    assert firsts == [first.event_id] + [e.event_id for e in later]


@pytest.mark.parametrize("gateways", [1, 2])
async def test_copies_arriving_while_the_first_is_settled_are_settled_once(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path, gateways: int
) -> None:
    """Settlement takes 2 s, the gate resends every 0.3 s: one settlement, one barrier move.
    With two gateways in a share group a copy may reach the other one, which gets billing's
    recorded decision (replayed) instead of settling again."""
    billing = FakeBilling()
    runs = []
    for n in range(gateways):
        consumer = make_consumer(*mosquitto, billing, lot, f"gw-{lot}-{n}")
        consumer._share_group = f"g{lot}" if gateways > 1 else None
        runs.append(await start(consumer, billing))
    moved: list[BarrierCommand] = []
    gate = lane(
        mosquitto, lot, "in-3", tmp_path, resend_after_s=0.3, resend_max_s=0.3,
        on_command=moved.append,
    )  # fmt: skip
    event_id = f"evt-slow-{lot}"
    billing.slow[event_id] = 2.0
    try:
        gate.capture("30A-000.03", camera_text=True, event_id=event_id)
        decision = await asyncio.to_thread(gate.wait_command, event_id, 20)
        assert decision is not None and decision.actuated
        await asyncio.sleep(1.0)  # answers to the copies arrive too, and change nothing
        assert list(billing.decisions) == [event_id] and len(billing.outbox) == 1
        assert sum(r.consumer.metrics.duplicates._value.get() for r in runs) >= 1
        assert [c.event_id for c in moved] == [event_id]
    finally:
        gate.stop()
        for r in runs:
            r.stop.set()
            await r.task


@pytest.mark.parametrize("how", ["stop", "crash"])
async def test_a_restarted_gate_resends_the_unanswered_events_its_buffer_kept(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path, how: str
) -> None:
    first = lane(mosquitto, lot, "in-4", tmp_path)
    events = [first.capture(f"30A-{i:03d}.04", camera_text=True) for i in range(3)]
    await wait_for(lambda: first.backlog() == 0)  # acknowledged, and lost: nobody listens
    first.stop() if how == "stop" else first.crash()
    billing = FakeBilling()
    running = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
    second = lane(mosquitto, lot, "in-4", tmp_path)  # the same buffer on disk
    try:
        await wait_for(lambda: all(second.decision(e.event_id) for e in events), 20)
        assert [eid for _, eid in billing.order] == [e.event_id for e in events]
    finally:
        second.stop()
        running.stop.set()
        await running.task


async def test_a_gate_with_events_unanswered_too_long_raises_the_gateways_alert(
    mosquitto: tuple[str, int],
    lot: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database keeps failing one event: the gate reports it unanswered, the gateway shows it
    per gate (metric, /readyz detail) and logs the alert; settled at last, all clears."""
    billing = FakeBilling()
    running = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
    health = running.consumer.metrics.gate_health
    health.alert_after_s = 1.0
    caplog.set_level(logging.WARNING, logger="gateway.gate_health")
    gate = lane(mosquitto, lot, "in-5", tmp_path, status_interval_s=0.5, resend_after_s=5.0)
    event_id = f"evt-held-{lot}"
    billing.failing[event_id] = 10**6
    try:
        gate.capture("30A-000.05", camera_text=True, event_id=event_id)
        await wait_for(lambda: [o.lane for o in health.overdue()] == [f"{lot}/in-5"], 20)
        _, body = await asyncio.to_thread(readyz_body, running)
        assert body["gates_unanswered"][f"{lot}/in-5"]["events"] == 1
        text = running.consumer.metrics.render().decode()
        assert f'parking_gate_unanswered_events{{gate="in-5",lot="{lot}"}} 1.0' in text
        assert any("in-5 has 1 events without a decision" in r.getMessage() for r in caplog.records)
        billing.failing[event_id] = 0
        assert await asyncio.to_thread(gate.wait_command, event_id, 20)
        await wait_for(lambda: health.overdue() == [], 20)
        report = health.report(lot, "in-5")
        assert report is not None and report.unanswered == 0
    finally:
        gate.stop()
        running.stop.set()
        await running.task


def readyz_body(running: Running) -> tuple[int, dict[str, Any]]:
    """/readyz of an app whose container has this consumer and its metrics."""
    from types import SimpleNamespace

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from gateway.ops import router

    consumer = running.consumer
    app = FastAPI()
    app.state.session_factory = sessionmaker(bind=create_engine("sqlite://"))
    app.state.container = SimpleNamespace(metrics=consumer.metrics, consumer=consumer)
    app.include_router(router)
    answer = TestClient(app).get("/readyz")
    return answer.status_code, answer.json()
