"""A consumer started before its broker waits for it (retrying with backoff) instead of exiting."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import pytest

from gateway.backoff import Backoff
from gateway.broker import free_port
from tests.integration.gateway.private_broker import private_mosquitto
from tests.integration.gateway.test_consumer_mqtt import FakeBilling, agent, make_consumer, wait_for

pytestmark = pytest.mark.integration


async def test_consumer_started_before_its_broker_connects_once_it_is_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lot = f"S{uuid.uuid4().hex[:10]}"
    port = free_port()
    billing = FakeBilling()
    consumer = make_consumer(
        "127.0.0.1", port, billing, lot, f"gw-{lot}", connect_retry=Backoff(0.2, 0.5)
    )
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="gateway.consumer")

    def attempts() -> int:
        return sum("not reachable" in r.getMessage() for r in caplog.records)

    task = asyncio.create_task(consumer.run(stop))
    try:
        await wait_for(lambda: attempts() >= 3 or task.done())
        assert not task.done() and not consumer.ready  # still trying, not exited
        with private_mosquitto(tmp_path / "broker", port) as broker:
            await wait_for(lambda: consumer.ready)
            gate = agent(broker, lot, "in-1", tmp_path)
            try:
                event = gate.capture("30A-016.16", camera_text=True)
                assert await asyncio.to_thread(gate.wait_command, event.event_id, 10)
            finally:
                gate.stop()
            stop.set()
            await task
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert any("connected to the broker after" in r.getMessage() for r in caplog.records)


async def test_consumer_stopped_while_waiting_for_its_broker_returns(tmp_path: Path) -> None:
    billing = FakeBilling()
    consumer = make_consumer(
        "127.0.0.1", free_port(), billing, "L1", "gw-never", connect_retry=Backoff(0.2, 0.5)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert not consumer.ready
