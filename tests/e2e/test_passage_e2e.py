"""A passage end to end: gate agent -> Mosquitto -> consumer -> billing -> barrier -> invoice ->
mock tax authority, on real PostgreSQL and the machine's Mosquitto."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from billing.adapters import orm
from gateway.broker import free_port
from gateway.protocol import commands_topic, decode_command, encode_event
from tests.e2e.passage_stack import PLATE, PassageStack, passage_stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def stack(
    pg_url_module: str, mosquitto: tuple[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PassageStack]:
    with passage_stack(
        pg_url_module, mosquitto, tmp_path_factory.mktemp("e2e"), read_plates=False
    ) as s:
        yield s


def test_car_enters_and_leaves_debited_once_invoice_accepted(stack: PassageStack) -> None:
    gate_in, gate_out = stack.agent(stack.entry_gate), stack.agent(stack.exit_gate)
    before = stack.balance()
    now = datetime.now(UTC)
    entry = gate_in.capture(PLATE, camera_text=True, captured_at=now - timedelta(minutes=95))
    cmd_in = gate_in.wait_command(entry.event_id, 30)
    assert cmd_in is not None and cmd_in.open and cmd_in.reason == "entry_ok"
    exit_ = gate_out.capture(PLATE, camera_text=True, captured_at=now)
    cmd_out = gate_out.wait_command(exit_.event_id, 30)
    assert cmd_out is not None and cmd_out.open and cmd_out.reason == "exit_paid"
    assert cmd_out.fare_vnd and cmd_out.fare_vnd > 0
    assert stack.balance() == before - cmd_out.fare_vnd
    assert stack.count(orm.JournalEntry, event_id=exit_.event_id) == 1
    row = wait_until(
        lambda: [r for r in stack.invoices_for(exit_.event_id) if r.status == "accepted"],
        60,
        "invoice accepted by the mock",
    )[0]
    assert row.total_vnd == cmd_out.fare_vnd
    # The authority itself knows the invoice under its code.
    answer = httpx.get(f"{stack.tax_url}/api/invoices/{row.mccqt}", timeout=10)
    assert answer.status_code == 200
    assert stack.invoices_for(entry.event_id) == []  # entries are not invoiced


def test_same_exit_event_three_times_one_debit_one_invoice(stack: PassageStack) -> None:
    """Copy 2 is answered from the consumer's memory; copy 3 comes after a consumer restart, so
    only the database's idempotency (the passage's unique event id) stands between it and a
    second debit; the gate still gets its answer to every copy."""
    gate_in, gate_out = stack.agent(stack.entry_gate), stack.agent(stack.exit_gate)
    now = datetime.now(UTC)
    plate = "30E-246.80"  # seeded business account
    entry = gate_in.capture(plate, camera_text=True, captured_at=now - timedelta(minutes=50))
    assert gate_in.wait_command(entry.event_id, 30)
    before = stack.balance(plate)
    exit_ = gate_out.capture(plate, camera_text=True, captured_at=now)
    payload = encode_event(exit_)
    gate_out.publish_raw(payload, exit_.event_id)
    cmd = gate_out.wait_command(exit_.event_id, 30)
    assert cmd is not None and cmd.open and cmd.fare_vnd
    consumer = stack.consumer.consumer
    wait_until(lambda: consumer.metrics.duplicates._value.get() >= 1, 30, "copy 2 from memory")
    wait_until(
        lambda: [r for r in stack.invoices_for(exit_.event_id) if r.status == "accepted"],
        60,
        "invoice accepted",
    )
    stack.restart_consumer()
    fresh = stack.consumer.consumer
    from_memory = fresh.metrics.duplicates._value.get()  # the container's metrics live on
    with command_listener(stack, gate_out.cfg.gate_id) as answers:
        gate_out.publish_raw(payload, exit_.event_id)
        # billing recognised the copy (no cache after the restart) and the gate heard again
        wait_until(lambda: exit_.event_id in answers, 30, "an answer to copy 3")
    assert fresh.settled == 0 and fresh.metrics.duplicates._value.get() == from_memory + 1
    again = answers[exit_.event_id]
    assert again["open"] and again["fare_vnd"] == cmd.fare_vnd
    assert stack.count(orm.Passage, event_id=exit_.event_id) == 1
    assert stack.count(orm.JournalEntry, event_id=exit_.event_id) == 1
    assert len(stack.invoices_for(exit_.event_id)) == 1
    assert stack.balance(plate) == before - cmd.fare_vnd


@contextmanager
def command_listener(stack: PassageStack, gate: str) -> Iterator[dict[str, dict[str, Any]]]:
    """Every barrier command sent to ``gate`` while open, by event id (the agent applies a
    command once and ignores repeats, so it cannot tell whether one came again)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    seen: dict[str, dict[str, Any]] = {}
    subscribed = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        command = decode_command(bytes(msg.payload))
        seen[command.event_id] = {"open": command.open, "fare_vnd": command.fare_vnd}

    client.on_message = on_message
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect(*stack.mqtt)
    client.loop_start()
    client.subscribe(commands_topic(stack.lot, gate), qos=1)
    try:
        assert subscribed.wait(10)
        yield seen
    finally:
        client.disconnect()
        client.loop_stop()


def scrape(stack: PassageStack) -> dict[str, float]:
    """/metrics of the gateway app, each sample summed over its labels."""
    from fastapi.testclient import TestClient
    from prometheus_client.parser import text_string_to_metric_families

    from gateway.app import create_app

    body = TestClient(create_app(stack.container.settings, stack.container)).get("/metrics").text
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def test_refund_while_the_service_runs_is_invoiced_and_accepted(stack: PassageStack) -> None:
    """An operator refunds an exit (``parking refund``) while the service runs: the service's
    invoice loop (``parking worker``, the demo) issues the adjusting invoice and the mock tax
    authority accepts it. Refunds used to be invoiced only by ``parking einvoice issue``."""
    gate_in, gate_out = stack.agent(stack.entry_gate), stack.agent(stack.exit_gate)
    plate = "29C-456.78"  # seeded business account, 5,000,000 VND
    now = datetime.now(UTC)
    entry = gate_in.capture(plate, camera_text=True, captured_at=now - timedelta(minutes=80))
    assert gate_in.wait_command(entry.event_id, 30)
    exit_ = gate_out.capture(plate, camera_text=True, captured_at=now)
    cmd = gate_out.wait_command(exit_.event_id, 30)
    assert cmd is not None and cmd.open and cmd.fare_vnd
    wait_until(
        lambda: [r for r in stack.invoices_for(exit_.event_id) if r.status == "accepted"],
        60,
        "the exit's invoice accepted",
    )
    with stack.container.session_factory() as s:
        entry_id = s.scalar(
            select(orm.JournalEntry.id).where(orm.JournalEntry.event_id == exit_.event_id)
        )
    refund = subprocess.run(
        [
            str(Path(sys.executable).parent / "parking"),
            "refund",
            str(entry_id),
            "--request-id",
            f"refund-{uuid.uuid4().hex[:8]}",
            "--reason",
            "Barrier opened late",
            "--actor",
            "operator-1",
            "--amount",
            "5000",
        ],
        env={**os.environ, "PARKING_DATABASE_URL": stack.container.settings.database_url or ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refund.returncode == 0, refund.stdout + refund.stderr

    def adjusting_accepted() -> list[Any]:
        return [
            r
            for r in stack.invoices_for(exit_.event_id)
            if r.kind == "adjusting" and r.status == "accepted"
        ]

    (adjusting,) = wait_until(adjusting_accepted, 60, "the adjusting invoice accepted")
    assert adjusting.total_vnd == -5000
    answer = httpx.get(f"{stack.tax_url}/api/invoices/{adjusting.mccqt}", timeout=10)
    assert answer.status_code == 200, answer.text


def test_one_passage_shows_in_the_metrics(stack: PassageStack) -> None:
    gate_in = stack.agent(stack.entry_gate)
    before = scrape(stack)
    entry = gate_in.capture("30K-777.01", camera_text=True)
    assert gate_in.wait_command(entry.event_id, 30)
    after = scrape(stack)
    for name in (
        "parking_passages_total",
        "parking_plate_read_seconds_count",
        "parking_decisions_total",
    ):
        assert after[name] == before.get(name, 0.0) + 1, name


def test_offline_gate_replays_in_order_and_everything_settles(stack: PassageStack) -> None:
    gate_in = stack.agent(stack.entry_gate)
    gate_in.go_offline()
    base = datetime.now(UTC) - timedelta(minutes=30)
    events = [
        gate_in.capture(
            f"30K-{100 + i:03d}.{i:02d}", camera_text=True, captured_at=base + timedelta(seconds=i)
        )
        for i in range(8)
    ]
    assert gate_in.backlog() == 8
    assert all(stack.count(orm.Passage, event_id=e.event_id) == 0 for e in events)
    gate_in.go_online()
    wait_until(lambda: all(e.event_id in gate_in.decisions for e in events), 60, "replay answered")
    assert gate_in.backlog() == 0
    with stack.container.session_factory() as s:
        from sqlalchemy import select

        ids = [e.event_id for e in events]
        rows = s.execute(
            select(orm.Passage.event_id)
            .where(orm.Passage.event_id.in_(ids))
            .order_by(orm.Passage.id)
        ).all()
    assert [r[0] for r in rows] == ids  # settled in capture order


def test_consumer_killed_mid_stream_loses_nothing(stack: PassageStack, pg_url_module: str) -> None:
    """A `parking serve` process is SIGKILLed while events flow; its successor settles the rest."""
    settings = stack.container.settings
    http_port = free_port()
    stack.consumer.stop()  # the in-process consumer hands the session to the subprocess
    env = {
        **os.environ,
        "PARKING_DATABASE_URL": pg_url_module,
        "PARKING_DATA_DIR": str(stack.tmp / "serve"),
        "PARKING_MQTT_HOST": stack.mqtt[0],
        "PARKING_MQTT_PORT": str(stack.mqtt[1]),
        "PARKING_MQTT_CLIENT_ID": settings.mqtt_client_id,
        "PARKING_MQTT_SHARE_GROUP": settings.mqtt_share_group or "",
        "PARKING_MQTT_LOT_FILTER": stack.lot,
        "PARKING_HTTP_PORT": str(http_port),
        "PARKING_TAX_AUTHORITY_URL": stack.tax_url,
    }
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "parking"), "serve", "--no-lpr"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gate_in = stack.agent(stack.entry_gate)
    try:
        wait_until(lambda: _ready(http_port), 90, "parking serve ready (/readyz)")
        base = datetime.now(UTC) - timedelta(minutes=20)
        events = [
            gate_in.capture(
                f"29H-{200 + i:03d}.{i:02d}",
                camera_text=True,
                captured_at=base + timedelta(seconds=i),
            )
            for i in range(30)
        ]
        wait_until(lambda: len(gate_in.decisions) >= 3, 60, "first commands")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    answered_before = sum(1 for e in events if e.event_id in gate_in.decisions)
    assert answered_before < len(events), "the kill came too late to be mid-stream"
    stack.restart_consumer()
    wait_until(lambda: all(e.event_id in gate_in.decisions for e in events), 90, "all answered")
    for e in events:
        assert stack.count(orm.Passage, event_id=e.event_id) == 1


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_unknown_gate_event_is_refused_and_lane_goes_on(stack: PassageStack) -> None:
    ghost = stack.agent(f"ghost-{uuid.uuid4().hex[:6]}")
    event = ghost.capture(PLATE, camera_text=True)
    refused = stack.consumer.consumer.metrics.rejected
    wait_until(lambda: refused.labels(code="UnknownGate")._value.get() >= 1, 30, "refusal")
    assert stack.count(orm.Passage, event_id=event.event_id) == 0
    gate_in = stack.agent(stack.entry_gate)
    ok = gate_in.capture("30A-999.01", camera_text=True)
    assert gate_in.wait_command(ok.event_id, 30) is not None


def test_gate_status_reaches_billing_and_metrics(stack: PassageStack) -> None:
    from billing.services import add_gate

    gate_id = add_gate(stack.container.uow_factory(), f"{stack.lot}-side", stack.lot, "entry")
    side = stack.agent(gate_id)
    wait_until(lambda: stack.gate_status(gate_id) == "online", 30, "gate online in billing")
    gauge = stack.consumer.consumer.metrics.gates_online.labels(lot=stack.lot)
    online_before = gauge._value.get()
    assert online_before >= 1
    side.stop()
    del stack.agents[gate_id]
    wait_until(lambda: stack.gate_status(gate_id) == "offline", 30, "gate offline in billing")
    wait_until(lambda: gauge._value.get() == online_before - 1, 30, "gauge down")


def test_crashed_gate_goes_offline_in_billing(stack: PassageStack) -> None:
    """No clean DISCONNECT: the broker publishes the gate's last will, and billing believes it."""
    from billing.services import add_gate

    gate_id = add_gate(stack.container.uow_factory(), f"{stack.lot}-crash", stack.lot, "entry")
    gate = stack.agent(gate_id)
    wait_until(lambda: stack.gate_status(gate_id) == "online", 30, "gate online in billing")
    gate.crash()
    wait_until(
        lambda: stack.gate_status(gate_id) == "offline", 30, "crashed gate offline in billing"
    )
    stack.agents.pop(gate_id).stop()
