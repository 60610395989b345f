"""Client ids: a stable per-host default, and a clear warning when another process takes ours."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from edge.lane import Lane, LaneConfig
from gateway.settings import Settings, default_client_id
from simulator.cameras import TinyCamera
from tests.integration.gateway.test_consumer_mqtt import FakeBilling, make_consumer, start, wait_for

pytestmark = pytest.mark.integration


def test_default_client_id_is_per_host_and_role_and_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARKING_MQTT_CLIENT_ID", raising=False)
    monkeypatch.setattr("socket.gethostname", lambda: "gw host 1")
    assert Settings(_env_file=None).mqtt_client_id == "parking-gateway-gw-host-1"  # type: ignore[call-arg]
    assert Settings(_env_file=None).mqtt_client_id == default_client_id("gateway")  # type: ignore[call-arg]
    assert default_client_id("worker") == "parking-worker-gw-host-1"
    monkeypatch.setenv("PARKING_MQTT_CLIENT_ID", "gw-b")
    assert Settings(_env_file=None).mqtt_client_id == "gw-b"  # type: ignore[call-arg]


async def test_two_consumers_with_one_client_id_warn_that_the_session_is_taken_over(
    mosquitto: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    lot = f"K{uuid.uuid4().hex[:10]}"
    caplog.set_level(logging.WARNING, logger="gateway.consumer")
    billing = FakeBilling()
    first = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
    second = None
    try:
        second = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
        await wait_for(lambda: any("session taken over" in r.getMessage() for r in caplog.records))
    finally:
        for r in (first, second):
            if r is not None:
                r.stop.set()
                await asyncio.wait_for(r.task, 15)
    warning = next(r.getMessage() for r in caplog.records if "session taken over" in r.getMessage())
    assert f"gw-{lot}" in warning and "PARKING_MQTT_CLIENT_ID" in warning


def test_a_disconnect_with_reason_session_taken_over_names_the_client_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Brokers that say why (MQTT v5 reason 0x8E; EMQX, newer Mosquitto) get a warning at once."""
    consumer = make_consumer("127.0.0.1", 1, FakeBilling(), "L1", "gw-shared")
    reason = ReasonCode(PacketTypes.DISCONNECT, identifier=0x8E)
    with caplog.at_level(logging.WARNING, logger="gateway.consumer"):
        consumer._on_disconnect(None, None, None, reason, None)
    (record,) = caplog.records
    assert "session taken over" in record.getMessage() and "'gw-shared'" in record.getMessage()


def test_gates_whose_ids_join_alike_keep_their_own_connections(
    mosquitto: tuple[str, int], tmp_path: Path
) -> None:
    """Lot A-B gate C and lot A gate B-C: with "-" as the joint both were client "gate-A-B-C"
    and each connection threw the other off the broker in turn."""
    tag = uuid.uuid4().hex[:6]
    lanes = [(f"A{tag}-B", "C"), (f"A{tag}", "B-C")]
    agents = [
        Lane(LaneConfig(lot, gate, "entry", tmp_path / f"{n}.sqlite", *mosquitto), TinyCamera())
        for n, (lot, gate) in enumerate(lanes)
    ]
    for agent in agents:
        agent.start()
    try:
        drops = [0, 0]
        for n, agent in enumerate(agents):
            previous = agent._link.client.on_disconnect

            def count(*args: Any, n: int = n, previous: Any = previous) -> None:
                drops[n] += 1
                previous(*args)

            agent._link.client.on_disconnect = count
        time.sleep(2.0)  # a take-over happens within milliseconds of the second CONNECT
        assert all(a.connected for a in agents) and drops == [0, 0]
        assert agents[0]._link.client._client_id != agents[1]._link.client._client_id
    finally:
        for agent in agents:
            agent.stop()
