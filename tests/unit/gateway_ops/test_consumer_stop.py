"""A stopping consumer's background loops end when cancelled, whatever else happens then."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.consumer import Consumer
from gateway.mqtt.client import MqttConfig


class CountingPublisher:
    def __init__(self) -> None:
        self.sweeps = 0

    def publish_pending(self, limit: int = 100) -> int:
        self.sweeps += 1
        return 0


def test_the_outbox_loop_ends_when_cancelled_just_as_a_decision_wakes_it() -> None:
    """The race that hung a stopping consumer now and then: a settled event sets the publisher's
    kick in the same moment the loop is cancelled. asyncio.wait_for on Python 3.11 swallowed that
    cancellation and the loop ran on, so the consumer's stop waited for ever."""

    async def scenario() -> tuple[bool, int]:
        consumer = Consumer(MqttConfig(), settle=lambda p: None, read_plate=None)  # type: ignore[arg-type,return-value]
        consumer._kick = asyncio.Event()
        publisher = CountingPublisher()
        task = asyncio.create_task(consumer._publish_loop(publisher))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)  # the loop waits for its kick
        consumer._kick.set()
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2)
        task.cancel()  # (old code) let it go
        return bool(done), publisher.sweeps

    stopped, _ = asyncio.run(scenario())
    assert stopped


def test_a_consumer_waiting_for_its_broker_stops_at_once() -> None:
    async def scenario() -> Any:
        consumer = Consumer(
            MqttConfig(host="127.0.0.1", port=1, client_id="never-connects"),
            settle=lambda p: None,  # type: ignore[arg-type,return-value]
            read_plate=None,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        await asyncio.sleep(0.3)  # first attempt refused; now waiting to retry
        stop.set()
        done, _ = await asyncio.wait([task], timeout=5)
        return bool(done) and task.exception() is None

    assert asyncio.run(scenario())
