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

from edge.lane import Lane, LaneConfig
from gateway.mqtt.client import MqttConfig, connect, make_client, stop
from gateway.outbox_publisher import OutboxPublisher, command_from_payload, publish_command
from simulator.cameras import TinyCamera
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


def gate_agent(
    mosquitto: tuple[str, int],
    lot: str,
    tmp: Path,
    on_command: list[str] | None = None,
    **kw: Any,
) -> Lane:
    """The exit lane ``out-1``; with ``on_command``, the event ids its barrier moved for."""
    a = Lane(
        LaneConfig(
            lot, "out-1", "exit", tmp / "out-1.sqlite", host=mosquitto[0], port=mosquitto[1], **kw
        ),
        TinyCamera(),
        on_command=None if on_command is None else (lambda c: on_command.append(c.event_id)),
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
        assert old.event_id not in gate.decisions
    finally:
        gate.stop()


def test_gate_ignores_commands_for_events_it_did_not_send_and_repeats(
    mosquitto: tuple[str, int],
    lot: str,
    service: mqtt.Client,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    moved: list[str] = []
    gate = gate_agent(mosquitto, lot, tmp_path, max_command_age_s=60, on_command=moved)
    try:
        mine = gate.capture("30A-3", camera_text=True)
        wait_until(lambda: gate.backlog() == 0)
        now = datetime.now(UTC)
        payload = barrier_row(0, lot, mine.event_id).payload
        foreign = command_from_payload({**payload, "event_id": f"evt-not-mine-{lot}"}, now)
        good = command_from_payload({**payload, "display": "fresh"}, issued_at=now)
        again = command_from_payload({**payload, "display": "again"}, issued_at=now)
        with caplog.at_level(logging.WARNING, logger="edge.lane"):
            for command in (foreign, good, again):
                publish_command(service, command, 60).wait_for_publish(5)
            assert gate.wait_command(mine.event_id, 10) is not None
            time.sleep(0.5)  # the repeat, published last, has arrived too
        assert list(gate.decisions) == [mine.event_id]
        assert gate.decisions[mine.event_id].display == "fresh"
        assert gate.decisions[mine.event_id].actuated
        assert moved == [mine.event_id]  # the barrier moved once, for the first answer
        assert any("did not send" in r.getMessage() for r in caplog.records)
    finally:
        gate.stop()


def test_a_stale_command_answers_the_event_but_does_not_move_the_barrier(
    mosquitto: tuple[str, int],
    lot: str,
    service: mqtt.Client,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issued 5 minutes ago: the car is long gone. The event is decided all the same (its
    resending ends), and a fresh copy of the answer later changes nothing."""
    moved: list[str] = []
    gate = gate_agent(
        mosquitto, lot, tmp_path, max_command_age_s=60, resend_after_s=0.3, on_command=moved
    )
    try:
        mine = gate.capture("30A-4", camera_text=True)
        wait_until(lambda: gate.backlog() == 0)
        now = datetime.now(UTC)
        payload = barrier_row(0, lot, mine.event_id).payload
        stale = command_from_payload({**payload, "display": "stale"}, now - timedelta(minutes=5))
        with caplog.at_level(logging.WARNING, logger="edge.lane"):
            publish_command(service, stale, 60).wait_for_publish(5)
            decision = gate.wait_command(mine.event_id, 10)
        assert decision is not None and decision.display == "stale" and not decision.actuated
        assert moved == []
        assert gate.unanswered() == [] and gate.counts().unanswered == 0
        assert any("too late to move the barrier" in r.getMessage() for r in caplog.records)
        fresh = command_from_payload({**payload, "display": "fresh"}, issued_at=now)
        publish_command(service, fresh, 60).wait_for_publish(5)
        time.sleep(0.5)
        assert moved == [] and gate.decisions[mine.event_id].display == "stale"
    finally:
        gate.stop()
