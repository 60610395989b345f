"""Generated Mosquitto configuration (credentials + ACLs) and the demo's embedded brokers."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
import pytest

from edge.lane import Lane, LaneConfig
from gateway.broker import AmqttBroker, MosquittoBroker, free_port
from gateway.mosquitto_conf import GateCredential, new_gate_credential
from gateway.mqtt.client import MqttConfig, connect, make_client, shared, stop
from gateway.protocol import allowlist_topic, commands_topic, events_topic
from simulator.cameras import TinyCamera
from tests.integration.gateway.test_consumer_mqtt import FakeBilling, make_consumer, start

pytestmark = pytest.mark.integration

LOT = "ACL1"


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[MosquittoBroker, dict[str, Any]]]:
    gates = [
        new_gate_credential(LOT, "in-1"),
        new_gate_credential(LOT, "out-1"),
        new_gate_credential("ACL2", "in-1"),  # a gate of another lot
    ]
    broker = MosquittoBroker(
        tmp_path_factory.mktemp("mosq"),
        free_port(),
        service_users={"gateway": "gw-secret"},
        gates=gates,
    )
    broker.start()
    try:
        yield broker, {"in": gates[0], "out": gates[1], "other": gates[2]}
    finally:
        broker.stop()


def client_for(broker: MosquittoBroker, user: str | None, password: str | None) -> mqtt.Client:
    return signed_in(broker.port, user, password, broker.host)


def signed_in(
    port: int,
    user: str | None,
    password: str | None,
    host: str = "127.0.0.1",
    *,
    tls: bool = False,
    timeout: float = 5.0,
) -> mqtt.Client:
    """A connected client with a clean, throw-away session (ConnectionError when refused)."""
    cfg = MqttConfig(
        host=host,
        port=port,
        client_id=f"c-{uuid.uuid4().hex[:8]}",
        username=user,
        password=password,
        clean_start=True,
        session_expiry_s=0,
        tls=tls,
    )
    client = make_client(cfg)
    connect(client, cfg, timeout=timeout)
    return client


def collect(client: mqtt.Client, topic_filter: str) -> list[str]:
    got: list[str] = []
    done = threading.Event()
    client.on_message = lambda _c, _u, m: got.append(m.topic)
    client.on_subscribe = lambda *_a: done.set()
    client.subscribe(topic_filter, qos=1)
    assert done.wait(5)
    return got


def test_wrong_or_missing_credentials_are_refused(
    secured: tuple[MosquittoBroker, dict[str, Any]],
) -> None:
    broker, gates = secured
    with pytest.raises(ConnectionError):
        client_for(broker, gates["in"].username, gates["out"].password)
    with pytest.raises(ConnectionError):
        client_for(broker, None, None)
    ok = client_for(broker, gates["in"].username, gates["in"].password)
    stop(ok)


def secured_agent(
    broker: MosquittoBroker,
    cred: GateCredential,
    direction: Literal["entry", "exit"],
    tmp_path: Path,
) -> Lane:
    """The gate agent of ``cred``'s lane, signing in with its own credentials (not started)."""
    return Lane(
        LaneConfig(
            cred.lot_id,
            cred.gate_id,
            direction,
            tmp_path / f"{cred.gate_id}.sqlite",
            host=broker.host,
            port=broker.port,
            username=cred.username,
            password=cred.password,
        ),
        TinyCamera(),
    )


def _nodelay(client: mqtt.Client) -> int:
    sock = client.socket()
    assert isinstance(sock, socket.socket)
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_gateway_and_gate_sockets_send_without_nagle_delay(
    secured: tuple[MosquittoBroker, dict[str, Any]], tmp_path: Path
) -> None:
    """A small packet right after another (a barrier command after a PUBACK) must not wait for
    the peer's delayed ACK: both ends switch Nagle's algorithm off, and so does the broker."""
    broker, gates = secured
    gateway = client_for(broker, "gateway", "gw-secret")
    agent = secured_agent(broker, gates["out"], "exit", tmp_path)
    agent.start()
    try:
        assert agent.connected
        assert _nodelay(gateway) and _nodelay(agent._link.client)
        assert "set_tcp_nodelay true" in (broker.directory / "mosquitto.conf").read_text()
    finally:
        agent.stop()
        stop(gateway)


def test_gate_may_publish_only_its_own_events(
    secured: tuple[MosquittoBroker, dict[str, Any]],
) -> None:
    broker, gates = secured
    gw = client_for(broker, "gateway", "gw-secret")
    seen = collect(gw, shared("acltest", f"lots/{LOT}/gates/+/events"))
    gate_in = client_for(broker, gates["in"].username, gates["in"].password)
    try:
        foreign = gate_in.publish(events_topic(LOT, "out-1"), b"spoofed", qos=1)
        foreign.wait_for_publish(5)
        own = gate_in.publish(events_topic(LOT, "in-1"), b"mine", qos=1)
        own.wait_for_publish(5)
        for _ in range(40):
            if seen:
                break
            threading.Event().wait(0.05)
        threading.Event().wait(0.3)
        assert seen == [events_topic(LOT, "in-1")]
    finally:
        stop(gate_in)
        stop(gw)


def test_gate_may_read_only_its_own_commands(
    secured: tuple[MosquittoBroker, dict[str, Any]],
) -> None:
    broker, gates = secured
    gate_in = client_for(broker, gates["in"].username, gates["in"].password)
    gw = client_for(broker, "gateway", "gw-secret")
    try:
        # Mosquitto grants the subscription but never delivers what the ACL does not allow.
        seen = collect(gate_in, f"lots/{LOT}/gates/+/commands")
        for gate in ("out-1", "in-1"):
            gw.publish(commands_topic(LOT, gate), b"cmd", qos=1).wait_for_publish(5)
        for _ in range(40):
            if seen:
                break
            threading.Event().wait(0.05)
        threading.Event().wait(0.3)
        assert seen == [commands_topic(LOT, "in-1")]
    finally:
        stop(gate_in)
        stop(gw)


def test_only_the_lots_gates_read_its_allowlist_and_only_the_gateway_writes_it(
    secured: tuple[MosquittoBroker, dict[str, Any]],
) -> None:
    broker, gates = secured
    gw = client_for(broker, "gateway", "gw-secret")
    mine = client_for(broker, gates["in"].username, gates["in"].password)
    other = client_for(broker, gates["other"].username, gates["other"].password)
    try:
        got_mine, got_other = (
            collect(mine, allowlist_topic(LOT)),
            collect(other, "lots/+/allowlist"),
        )
        forged = mine.publish(allowlist_topic(LOT), b"forged by a gate", qos=1, retain=True)
        forged.wait_for_publish(5)
        gw.publish(allowlist_topic(LOT), b"signed list", qos=1, retain=True).wait_for_publish(5)
        for _ in range(40):
            if got_mine:
                break
            threading.Event().wait(0.05)
        threading.Event().wait(0.3)
        assert got_mine == [allowlist_topic(LOT)]  # the gateway's, not the gate's forgery
        assert got_other == []  # another lot's gate never reads it
    finally:
        gw.publish(allowlist_topic(LOT), b"", qos=1, retain=True).wait_for_publish(5)
        for c in (mine, other, gw):
            stop(c)


async def test_gate_agent_and_consumer_through_the_secured_broker(
    secured: tuple[MosquittoBroker, dict[str, Any]], tmp_path: Path
) -> None:
    broker, gates = secured
    cred: GateCredential = gates["in"]
    billing = FakeBilling()
    consumer = make_consumer(broker.host, broker.port, billing, LOT, "gw-acl")
    consumer.cfg = MqttConfig(
        host=broker.host,
        port=broker.port,
        client_id="gw-acl",
        username="gateway",
        password="gw-secret",
    )
    running = await start(consumer, billing)
    agent = secured_agent(broker, cred, "entry", tmp_path)
    agent.start()
    try:
        event = agent.capture("30A-555.55", camera_text=True)
        cmd = await asyncio.to_thread(agent.wait_command, event.event_id, 10)
        assert cmd is not None and cmd.open
    finally:
        agent.stop()
        running.stop.set()
        await running.task


async def test_amqtt_embedded_broker_carries_a_passage_over_mqtt_311(tmp_path: Path) -> None:
    broker = AmqttBroker(free_port())
    await asyncio.to_thread(broker.start)
    try:
        billing = FakeBilling()
        consumer = make_consumer(broker.host, broker.port, billing, "AM1", "gw-amqtt")
        consumer.cfg = MqttConfig(
            host=broker.host, port=broker.port, client_id="gw-amqtt", protocol="v311"
        )
        running = await start(consumer, billing)
        agent = Lane(
            LaneConfig(
                "AM1",
                "in-1",
                "entry",
                tmp_path / "a.sqlite",
                host=broker.host,
                port=broker.port,
                protocol="v311",
            ),
            TinyCamera(),
        )
        agent.start()
        try:
            events = [agent.capture(f"30A-{i}00.00", camera_text=True) for i in range(1, 4)]
            for e in events:
                cmd = await asyncio.to_thread(agent.wait_command, e.event_id, 10)
                assert cmd is not None and cmd.open
            assert [eid for _, eid in billing.order] == [e.event_id for e in events]
        finally:
            agent.stop()
            running.stop.set()
            await running.task
    finally:
        await asyncio.to_thread(broker.stop)


async def test_consumer_and_gate_reconnect_after_a_broker_restart(tmp_path: Path) -> None:
    gate_cred = new_gate_credential("RC1", "in-1")
    broker = MosquittoBroker(
        tmp_path / "mosq", free_port(), service_users={"gateway": "gw"}, gates=[gate_cred]
    )
    await asyncio.to_thread(broker.start)
    billing = FakeBilling()
    consumer = make_consumer(broker.host, broker.port, billing, "RC1", "gw-rc1")
    consumer.cfg = MqttConfig(
        host=broker.host,
        port=broker.port,
        client_id="gw-rc1",
        username="gateway",
        password="gw",
        reconnect_max_s=2,
    )
    running = await start(consumer, billing)
    agent = Lane(
        LaneConfig(
            "RC1",
            "in-1",
            "entry",
            tmp_path / "g.sqlite",
            host=broker.host,
            port=broker.port,
            username=gate_cred.username,
            password=gate_cred.password,
        ),
        TinyCamera(),
    )
    agent.start()
    try:
        first = agent.capture("30A-111.11", camera_text=True)
        assert await asyncio.to_thread(agent.wait_command, first.event_id, 10)
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(0.5)
        assert not agent.connected
        second = agent.capture("30A-222.22", camera_text=True)  # buffered at the gate
        await asyncio.to_thread(broker.start)
        cmd = await asyncio.to_thread(agent.wait_command, second.event_id, 30)
        assert cmd is not None and cmd.open
        assert [eid for _, eid in billing.order] == [first.event_id, second.event_id]
    finally:
        agent.stop()
        running.stop.set()
        await running.task
        await asyncio.to_thread(broker.stop)
