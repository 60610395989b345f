"""A consumer on the machine's Mosquitto with billing faked in memory, on a lot of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.integration.gateway.test_consumer_mqtt import (
    FakeBilling,
    Running,
    make_consumer,
    start,
)


@pytest.fixture()
def lot() -> str:
    return f"T{uuid.uuid4().hex[:10]}"


@pytest.fixture()
async def running(mosquitto: tuple[str, int], lot: str) -> AsyncIterator[Running]:
    billing = FakeBilling()
    r = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
    yield r
    r.stop.set()
    await r.task
