"""Resends against the real billing on PostgreSQL: a copy of an event is answered with the
decision recorded for it, never settled twice, when it comes after a gateway restart (its memory
gone: billing's replay answers) and while the database is down and back (the copies wait in the
lane behind the first, which is retried until the database answers)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from billing.adapters import orm
from gateway.broker import free_port
from tests.e2e.passage_stack import PLATE, passage_stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_a_resend_after_a_gateway_restart_gets_billings_recorded_decision(
    pg_url: str, mosquitto: tuple[str, int], tmp_path: Path
) -> None:
    """The decision was settled and published, but its command expired before the gate (away)
    got it; the gateway restarted meanwhile. Back online, the gate resends the event."""
    with passage_stack(
        pg_url, mosquitto, tmp_path, read_plates=False, mqtt_command_expiry_s=1
    ) as stack:
        gate = stack.agent(stack.entry_gate)
        stack.consumer.stop()  # the event waits in the gateway's session
        entry = gate.capture(PLATE, camera_text=True)
        wait_until(lambda: gate.backlog() == 0, 15, "acknowledged by the broker")
        gate.go_offline()
        stack.restart_consumer()  # settles it and publishes the command, the gate is away
        wait_until(lambda: stack.count(orm.Passage, event_id=entry.event_id), 30, "settled")
        time.sleep(2.5)  # the command expires in the broker (1 s)
        stack.restart_consumer()  # and the gateway's memory of the decision is gone
        duplicates = stack.container.metrics.duplicates._value.get()
        gate.go_online()  # reconnected: the unanswered event is resent at once
        decision = gate.wait_command(entry.event_id, 30)
        assert decision is not None and decision.open and decision.reason == "entry_ok"
        assert stack.count(orm.Passage, event_id=entry.event_id) == 1
        assert stack.container.metrics.duplicates._value.get() == duplicates + 1


@pytest.fixture()
def private_pg() -> Iterator[tuple[str, str]]:
    """A PostgreSQL cluster of this test's own (it stops and starts it): (name, URL)."""
    name, port = f"edgecore{uuid.uuid4().hex[:8]}", free_port()
    subprocess.run(
        ["pg_createcluster", "15", name, "--port", str(port), "--start", "--",
         "--auth-local=trust", "--auth-host=trust"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE parking"))
        admin.dispose()
        yield name, f"postgresql+psycopg://postgres@127.0.0.1:{port}/parking"
    finally:
        subprocess.run(["pg_dropcluster", "--stop", "15", name], capture_output=True)


def test_copies_sent_while_the_database_restarts_settle_one_exit_once(
    private_pg: tuple[str, str], mosquitto: tuple[str, int], tmp_path: Path
) -> None:
    name, url = private_pg
    with passage_stack(url, mosquitto, tmp_path, read_plates=False) as stack:
        gate_in = stack.agent(stack.entry_gate)
        gate_out = stack.agent(stack.exit_gate, resend_after_s=0.5, resend_max_s=0.5)
        now = datetime.now(UTC)
        entry = gate_in.capture(PLATE, camera_text=True, captured_at=now - timedelta(hours=2))
        assert gate_in.wait_command(entry.event_id, 30)
        before = stack.balance()
        subprocess.run(["pg_ctlcluster", "15", name, "stop", "-m", "fast"], check=True)
        try:
            exit_ = gate_out.capture(PLATE, camera_text=True, captured_at=now)
            consumer = stack.consumer.consumer
            wait_until(lambda: consumer.blocked_lanes, 30, "the lane blocked on the database")
            time.sleep(2.0)  # the gate resends meanwhile: copies queue behind the first
        finally:
            subprocess.run(["pg_ctlcluster", "15", name, "start"], check=True)
        decision = gate_out.wait_command(exit_.event_id, 60)
        assert decision is not None and decision.open and decision.fare_vnd
        wait_until(lambda: consumer.metrics.duplicates._value.get() >= 1, 30, "copies answered")
        assert stack.count(orm.Passage, event_id=exit_.event_id) == 1
        assert stack.count(orm.JournalEntry, event_id=exit_.event_id) == 1
        assert stack.balance() == before - decision.fare_vnd
