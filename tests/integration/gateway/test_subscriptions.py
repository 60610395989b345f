"""On the real Mosquitto: a consumer resuming its persistent session subscribes exactly what its
settings say. After a run with a plain subscription, a run with a share group used to keep both
(every event arrived twice); a changed lot filter kept the old lots."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway.test_consumer_mqtt import (
    FakeBilling,
    agent,
    make_consumer,
    paho_log,
    start,
    wait_for,
)

pytestmark = pytest.mark.integration


async def run_once(
    mosquitto: tuple[str, int],
    lot: str,
    client_id: str,
    share_group: str | None,
    **kw: Any,
) -> None:
    """Connect with this configuration (persistent session), then stop, keeping the session."""
    billing = FakeBilling()
    consumer = make_consumer(*mosquitto, billing, kw.pop("lot_filter", lot), client_id, **kw)
    consumer._share_group = share_group
    running = await start(consumer, billing)
    await asyncio.sleep(0.3)  # the SUBACK is in
    running.stop.set()
    await running.task


async def deliveries(
    mosquitto: tuple[str, int],
    lot: str,
    client_id: str,
    share_group: str | None,
    tmp_path: Path,
    events: int = 5,
    **kw: Any,
) -> tuple[int, int]:
    """(event PUBLISH packets received, events settled) for ``events`` events from one gate."""
    billing = FakeBilling()
    consumer = make_consumer(*mosquitto, billing, lot, client_id, **kw)
    consumer._share_group = share_group
    running = await start(consumer, billing)
    lines = paho_log(consumer)
    gate = agent(mosquitto, lot, f"in-{uuid.uuid4().hex[:4]}", tmp_path)
    try:
        sent = [gate.capture(f"30A-{i:03d}.55", camera_text=True) for i in range(events)]
        await wait_for(lambda: all(gate.decision(e.event_id) for e in sent), 15)
        await asyncio.sleep(1.0)  # a second copy through a stale subscription would be in
        events_in = [n for n in lines if n.startswith("Received PUBLISH") and "/events'" in n]
        return len(events_in), len(billing.decisions)
    finally:
        gate.stop()
        running.stop.set()
        await running.task


@pytest.mark.parametrize(
    ("before", "after", "remembered"),
    [
        (None, "own", False),  # plain -> shared: the plain form is an obvious alternate
        ("own", None, True),  # a group of its own -> plain: known from the data dir
        ("gateway", None, False),  # the default group -> plain: an obvious alternate
    ],
)
async def test_a_resumed_session_keeps_only_the_subscription_the_settings_ask_for(
    mosquitto: tuple[str, int],
    tmp_path: Path,
    before: str | None,
    after: str | None,
    remembered: bool,
) -> None:
    lot = f"S{uuid.uuid4().hex[:10]}"
    client_id = f"gw-{lot}"

    def group(name: str | None) -> str | None:
        return f"g{lot}" if name == "own" else name

    memory = tmp_path / "subs.json" if remembered else None
    await run_once(mosquitto, lot, client_id, group(before), subscriptions_file=memory)
    packets, settled = await deliveries(
        mosquitto, lot, client_id, group(after), tmp_path, subscriptions_file=memory
    )
    assert (packets, settled) == (5, 5)  # once each, not twice


async def test_a_changed_lot_filter_drops_the_old_lots_remembered_in_the_data_dir(
    mosquitto: tuple[str, int], tmp_path: Path
) -> None:
    old_lot, new_lot = (f"S{uuid.uuid4().hex[:10]}" for _ in range(2))
    client_id = f"gw-{new_lot}"
    memory = tmp_path / "mqtt" / "subs.json"
    await run_once(
        mosquitto, old_lot, client_id, None, lot_filter=old_lot, subscriptions_file=memory
    )
    assert f"lots/{old_lot}/gates/+/events" in json.loads(memory.read_text())["filters"]
    billing = FakeBilling()
    consumer = make_consumer(*mosquitto, billing, new_lot, client_id, subscriptions_file=memory)
    running = await start(consumer, billing)
    gate = agent(mosquitto, old_lot, "in-1", tmp_path)
    try:
        foreign = gate.capture("30A-001.66", camera_text=True)
        await asyncio.sleep(1.5)
        assert foreign.event_id not in billing.decisions  # not this gateway's lot any more
    finally:
        gate.stop()
        running.stop.set()
        await running.task
    assert json.loads(memory.read_text())["filters"] == sorted(
        [f"lots/{new_lot}/gates/+/events", f"lots/{new_lot}/gates/+/status"]
    )
