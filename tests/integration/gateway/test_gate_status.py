"""Gate statuses on the real Mosquitto: a gate republishes its status as its counts change, under
its connection's time; billing's gate table is written once per (online, at), and the last will
of a crashed gate still replaces its "online"."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.gateway.test_consumer_mqtt import (
    FakeBilling,
    agent,
    make_consumer,
    start,
    wait_for,
)

pytestmark = pytest.mark.integration


async def test_count_updates_are_not_written_to_billing_again_but_the_will_is(
    mosquitto: tuple[str, int], tmp_path: Path
) -> None:
    lot = f"G{uuid.uuid4().hex[:10]}"
    recorded: list[tuple[str, bool, datetime]] = []
    billing = FakeBilling(delay_s=0.6)  # events wait long enough to be reported
    running = await start(
        make_consumer(
            *mosquitto,
            billing,
            lot,
            f"gw-{lot}",
            record_status=lambda _lot, gate, online, at: recorded.append((gate, online, at)),
        ),
        billing,
    )
    gate = agent(mosquitto, lot, "in-1", tmp_path)
    health = running.consumer.metrics.gate_health
    try:
        events = [gate.capture(f"30A-{i:03d}.77", camera_text=True) for i in range(4)]

        def unanswered() -> int | None:
            r = health.report(lot, "in-1")
            return None if r is None else r.unanswered

        await wait_for(lambda: (unanswered() or 0) > 0)  # reported while they wait...
        await wait_for(lambda: all(gate.decision(e.event_id) for e in events), 15)
        await wait_for(lambda: unanswered() == 0)  # ...and again once answered
        await asyncio.sleep(1.0)  # statuses for the changed counts have come and gone
        assert [(g, online) for g, online, _ in recorded] == [("in-1", True)]
        gate.crash()  # the broker publishes the will, stamped with the same time
        await wait_for(lambda: len(recorded) == 2, 15)
        assert recorded[1][:2] == ("in-1", False) and recorded[1][2] == recorded[0][2]
    finally:
        gate.stop()
        running.stop.set()
        await running.task
