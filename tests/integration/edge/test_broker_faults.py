"""A private Mosquitto with the production configuration (``gateway.mosquitto_conf``: accounts,
ACLs, persistence, the one packet size limit), restarted and killed under the lanes' feet:
every event still gets its decision, settled once. Nothing relies on the broker's persistence."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edge.fit import CaptureRefused
from edge.lane import Lane
from gateway.broker import MosquittoBroker, free_port
from gateway.consumer import Consumer
from gateway.mosquitto_conf import GateCredential, new_gate_credential
from tests.integration.edge.lanes import lane, wait_until
from tests.integration.gateway.test_consumer_mqtt import (
    FakeBilling,
    Running,
    make_consumer,
    start,
    wait_for,
)
from tests.unit.edge.test_fit import noisy_jpeg

pytestmark = pytest.mark.integration

GATEWAY_PASSWORD = "gw-secret"
GATES = ("in-1", "out-1", "in-2")


@pytest.fixture()
def lot() -> str:
    return f"F{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def creds(lot: str) -> dict[str, GateCredential]:
    return {gate: new_gate_credential(lot, gate) for gate in GATES}


@pytest.fixture()
def broker(tmp_path: Path, creds: dict[str, GateCredential]) -> Iterator[MosquittoBroker]:
    b = MosquittoBroker(
        tmp_path / "mosquitto",
        free_port(),
        service_users={"gateway": GATEWAY_PASSWORD},
        gates=list(creds.values()),
    )
    b.start()
    try:
        yield b
    finally:
        b.stop()


def gateway(broker: MosquittoBroker, billing: FakeBilling, lot: str, **kw: Any) -> Consumer:
    """A consumer signed in as the gateway's service user, in a share group (as deployed)."""
    consumer = make_consumer(broker.host, broker.port, billing, lot, f"gw-{lot}", **kw)
    consumer.cfg = replace(consumer.cfg, username="gateway", password=GATEWAY_PASSWORD)
    consumer._share_group = f"g{lot}"
    return consumer


def gate(broker: MosquittoBroker, cred: GateCredential, tmp: Path, **kw: Any) -> Lane:
    kw.setdefault("resend_after_s", 1.0)
    kw.setdefault("resend_max_s", 2.0)
    return lane(
        (broker.host, broker.port),
        cred.lot_id,
        cred.gate_id,
        tmp,
        username=cred.username,
        password=cred.password,
        **kw,
    )


async def stop_gateway(running: Running) -> None:
    running.stop.set()
    await running.task


async def test_events_published_after_a_broker_restart_before_the_gateway_is_back_are_decided(
    broker: MosquittoBroker, creds: dict[str, GateCredential], lot: str, tmp_path: Path
) -> None:
    """The issue's reproduction: restart the broker, then publish as a gate before the gateway
    reconnects. The broker acknowledges them; through the resumed ``$share`` subscription of the
    gateway's persistent session they never arrive. The gate resends until each is decided."""
    billing = FakeBilling()
    running = await start(gateway(broker, billing, lot), billing)
    lane_ = gate(broker, creds["in-1"], tmp_path)
    try:
        warm = lane_.capture("30A-000.01", camera_text=True)
        assert await asyncio.to_thread(lane_.wait_command, warm.event_id, 15)
        await stop_gateway(running)  # its session (and subscription) stays with the broker
        broker.stop()
        broker.start()
        await wait_for(lambda: lane_.connected, 20)
        events = [lane_.capture(f"30A-{i:03d}.11", camera_text=True) for i in range(5)]
        await wait_for(lambda: lane_.backlog() == 0, 15)  # all acknowledged by the broker
        running = await start(gateway(broker, billing, lot), billing)
        await wait_for(lambda: all(lane_.decision(e.event_id) for e in events), 30)
        assert len(billing.decisions) == 6 and len(billing.outbox) == 6  # each settled once
    finally:
        lane_.stop()
        await stop_gateway(running)


async def test_a_broker_killed_with_sigkill_while_gates_publish_loses_no_event(
    broker: MosquittoBroker, creds: dict[str, GateCredential], lot: str, tmp_path: Path
) -> None:
    """Events the broker acknowledged since its last autosave die with it; the senders live on
    (no exception from the dropped connection ends them) and resend until decided."""
    billing = FakeBilling()
    running = await start(gateway(broker, billing, lot), billing)
    lanes = [gate(broker, creds[g], tmp_path) for g in ("in-1", "in-2")]
    captured: list[tuple[Lane, str]] = []
    done = threading.Event()

    def traffic() -> None:
        for i in range(30):
            for n, lane_ in enumerate(lanes):
                event = lane_.capture(f"30A-{i:03d}.{n}2", camera_text=True)
                captured.append((lane_, event.event_id))
            done.wait(0.05)

    try:
        feeder = threading.Thread(target=traffic)
        feeder.start()
        await wait_for(lambda: len(billing.decisions) >= 10, 20)
        broker.kill()  # mid-stream, nothing saved since the last autosave
        await asyncio.sleep(1.0)
        broker.start()
        await asyncio.to_thread(feeder.join, 30)
        assert len(captured) == 60
        await wait_for(lambda: all(g.decision(eid) for g, eid in captured), 60)
        assert len(billing.decisions) == 60 and len(billing.outbox) == 60  # once each
        assert all(g._sender.alive for g in lanes)
    finally:
        done.set()
        for lane_ in lanes:
            lane_.stop()
        await stop_gateway(running)


async def test_a_capture_larger_than_one_event_is_shrunk_and_decided(
    broker: MosquittoBroker, creds: dict[str, GateCredential], lot: str, tmp_path: Path
) -> None:
    """Five frames just under 1 MiB: each valid, together over the limit. Before, the event went
    out as it was, the broker dropped the gate's connection for it, again and again."""
    frames = []
    for seed in range(5):
        width = 1280
        while len(frame := noisy_jpeg(width, 720, seed, quality=100)) > 1024 * 1024:
            width -= 40
        frames.append(frame)
    billing = FakeBilling()
    running = await start(gateway(broker, billing, lot), billing)
    lane_ = gate(broker, creds["out-1"], tmp_path, direction="exit")
    try:
        big = lane_.capture("30A-000.33", camera_text=True, frames=frames)
        assert len(big.frames) == 5 and sum(map(len, big.frames)) < sum(map(len, frames))
        assert await asyncio.to_thread(lane_.wait_command, big.event_id, 20)
        assert running.consumer.metrics.rejected.labels(code="too_large")._value.get() == 0
        garbage = b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024)
        with pytest.raises(CaptureRefused):
            lane_.capture("30A-000.34", camera_text=True, frames=[garbage])
        assert lane_.unanswered() == [] and lane_.backlog() == 0  # nothing buffered for it
        wait_until(lambda: lane_.connected, 5)  # and the link never dropped over it
    finally:
        lane_.stop()
        await stop_gateway(running)
