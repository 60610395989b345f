"""Barrier commands on the real Mosquitto: they expire, and a gate applies only fresh commands for
events it sent (a gate back from an outage must not open for cars long gone)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from gateway.mqtt.client import MqttConfig, connect, make_client, stop
from gateway.outbox_publisher import OutboxPublisher, command_from_payload, publish_command
from simulator.gate_agent import AgentConfig, GateAgent
from tests.integration.gateway.test_consumer_mqtt import FakeBilling, Row

pytestmark = pytest.mark.integration


@pytest.fixture()
def lot() -> str:
    return f"C{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def service(mosquitto: tuple[str, int], lot: str) -> Iterator[mqtt.Client]:
    """A gateway-side client that publishes commands (nobody consumes events on this lot)."""
    cfg = MqttConfig(host=mosquitto[0], port=mosquitto[1], client_id=f"svc-{lot}", clean_start=True)
    client = make_client(cfg)
    connect(client, cfg)
    try:
        yield client
    finally:
        stop(client)


def gate_agent(mosquitto: tuple[str, int], lot: str, tmp: Path, **kw: Any) -> GateAgent:
    a = GateAgent(
        AgentConfig(
            lot, "out-1", "exit", tmp / "out-1.sqlite", host=mosquitto[0], port=mosquitto[1], **kw
        )
    )
    a.start()
    assert a.connected
    return a


def barrier_row(row_id: int, lot: str, event_id: str) -> Row:
    return Row(
        row_id,
        {
            "event_id": event_id,
            "lot_id": lot,
            "gate_id": "out-1",
            "open": True,
            "display": "Phí 25.000đ",
            "reason": "exit_paid",
            "plate": "30A-123.45",
            "fare_vnd": 25_000,
            "balance_vnd": 100_000,
        },
    )


def wait_until(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_command_queued_past_its_expiry_never_reaches_the_gate(
    mosquitto: tuple[str, int], lot: str, service: mqtt.Client, tmp_path: Path
) -> None:
    gate = gate_agent(mosquitto, lot, tmp_path)
    billing = FakeBilling()
    sessions = sessionmaker(bind=create_engine("sqlite://"))

    def publisher(expiry_s: int) -> OutboxPublisher:
        return OutboxPublisher(
            sessions,
            service,
            claim=billing.claim,
            mark_processed=billing.mark,
            command_expiry_s=expiry_s,
        )

    try:
        old, fresh = (gate.capture(plate, camera_text=True) for plate in ("30A-1", "30A-2"))
        wait_until(lambda: gate.backlog() == 0)
        gate.go_offline()  # its persistent session keeps queueing commands for it
        billing.outbox.append(barrier_row(1, lot, old.event_id))
        assert publisher(1).publish_pending() == 1
        time.sleep(2.2)  # the broker's clock passes the 1 s expiry while the gate is away
        billing.outbox.append(barrier_row(2, lot, fresh.event_id))
        assert publisher(60).publish_pending() == 1
        gate.go_online()
        # Queued in order behind the expired one: once this arrives, the other would have too.
        assert gate.wait_command(fresh.event_id, 10) is not None
        assert old.event_id not in gate.commands
    finally:
        gate.stop()


def test_gate_ignores_stale_commands_and_commands_for_events_it_did_not_send(
    mosquitto: tuple[str, int],
    lot: str,
    service: mqtt.Client,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = gate_agent(mosquitto, lot, tmp_path, max_command_age_s=60)
    try:
        mine = gate.capture("30A-3", camera_text=True)
        wait_until(lambda: gate.backlog() == 0)
        now = datetime.now(UTC)
        payload = barrier_row(0, lot, mine.event_id).payload
        stale = command_from_payload({**payload, "display": "stale"}, now - timedelta(minutes=5))
        foreign = command_from_payload({**payload, "event_id": f"evt-not-mine-{lot}"}, now)
        good = command_from_payload({**payload, "display": "fresh"}, issued_at=now)
        with caplog.at_level(logging.WARNING, logger="simulator.gate_agent"):
            for command in (stale, foreign, good):
                publish_command(service, command, 60).wait_for_publish(5)
            assert gate.wait_command(mine.event_id, 10) is not None
        # Delivered in order on one topic: the first two were seen (and ignored) before it.
        assert list(gate.commands) == [mine.event_id]
        assert gate.commands[mine.event_id].display == "fresh"
        messages = [r.getMessage() for r in caplog.records]
        assert any("stale command" in m for m in messages)
        assert any("did not send" in m for m in messages)
    finally:
        gate.stop()
