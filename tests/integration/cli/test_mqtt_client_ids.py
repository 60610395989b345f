"""Client ids are bound to accounts in the broker configuration ``parking mqtt config`` writes.

The security pass connected ``mosquitto_sub -c -i <gateway client id> -u gate/L/G -P <pw>``:
with a gate's credentials it took the gateway's persistent session over, the two kicked each
other off every ~2 s, and 1 of 5 events was lost. With ``use_username_as_clientid`` the broker
gives that connection the gate's own name as its client id: the gateway stays connected and
receives every event. Without the setting (the first part of the test) the attack works, which
shows the test can fail.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from gateway.broker import free_port
from gateway.mosquitto_conf import GateCredential
from gateway.mqtt.client import MqttConfig, connect, make_client, shared, stop
from gateway.protocol import events_topic
from tests.integration.cli.test_mqtt_config import (
    TWINS,
    _database,
    _gate_file,
    _mosquitto,
    _parking,
    _service,
)
from tests.integration.gateway.test_broker_acl import signed_in

pytestmark = pytest.mark.integration

EVENTS = 5


class Gateway:
    """The gateway's account on a persistent session, as ``parking serve`` connects."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.cfg = MqttConfig(
            port=port,
            client_id=username,  # what the generated gateways/<name>.env sets
            username=username,
            password=password,
            session_expiry_s=300,
            reconnect_min_s=1,
            reconnect_max_s=1,
        )
        self.client = make_client(self.cfg)
        self.got: list[bytes] = []
        self.kicked: list[str] = []
        self.subscribed = threading.Event()
        self.client.on_message = lambda _c, _u, m: self.got.append(bytes(m.payload))
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_disconnect = lambda _c, _u, _f, reason, _p: self.kicked.append(str(reason))

    def __enter__(self) -> Gateway:
        connect(self.client, self.cfg)
        self.client.subscribe(shared("gateway", "lots/+/gates/+/events"), qos=1)
        assert self.subscribed.wait(5)
        return self

    def __exit__(self, *_exc: object) -> None:
        stop(self.client)


def _attack(port: int, gateway_id: str, gate: GateCredential, publisher: mqtt.Client) -> None:
    """mosquitto_sub with a gate's password and the gateway's client id, while another gate
    publishes five events, one every 0.6 s."""
    sub = subprocess.Popen(
        [
            "mosquitto_sub",
            *("-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5"),
            *("-c", "-i", gateway_id, "-x", "300"),
            *("-u", gate.username, "-P", gate.password),
            *("-t", f"lots/{gate.lot_id}/gates/{gate.gate_id}/commands", "-q", "1"),
            *("-W", "4"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)  # connected (and, without the binding, the gateway kicked off)
        for i in range(EVENTS):
            own = events_topic(TWINS[1][0], TWINS[1][1])
            publisher.publish(own, f"event {i}".encode(), qos=1).wait_for_publish(5)
            time.sleep(0.6)
    finally:
        _, err = sub.communicate(timeout=15)
    assert "refused" not in err.lower() and "not authori" not in err.lower(), err


def _run(conf_dir: Path, port: int, *, await_events: bool) -> tuple[list[bytes], list[str]]:
    """The attack against a broker on ``conf_dir``'s configuration: (events the gateway got,
    reasons it was kicked off). ``await_events`` waits (up to 10 s) for all of them: only
    worth it where they must all arrive; the unbound run loses some and asserts the kicks."""
    gateway = _service(conf_dir)
    attacker = _gate_file(conf_dir, *TWINS[0])
    sender = _gate_file(conf_dir, *TWINS[1])
    with _mosquitto(conf_dir / "mosquitto.conf", port), Gateway(port, *gateway) as gw:
        publisher = signed_in(port, sender.username, sender.password)
        try:
            _attack(port, gateway[0], attacker, publisher)
            deadline = time.monotonic() + (10 if await_events else 0)
            while len(gw.got) < EVENTS and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.3)
        finally:
            stop(publisher)
        return list(gw.got), list(gw.kicked)


def test_a_gates_password_cannot_take_the_gateways_session(tmp_path: Path) -> None:
    url = _database(tmp_path / "db")
    out, port = tmp_path / "mqtt", free_port()
    done = _parking(url, "mqtt", "config", "--out", str(out), "--port", str(port))
    assert done.returncode == 0, done.stderr
    conf = out / "mosquitto.conf"
    assert "use_username_as_clientid true" in conf.read_text()

    # Without the binding (the configuration before this fix), the attack takes over.
    unbound = conf.read_text().replace("use_username_as_clientid true\n", "")
    conf.write_text(unbound)
    got, kicked = _run(out, port, await_events=False)
    assert kicked, "without use_username_as_clientid the gateway should have been kicked off"

    # With it, the gateway keeps its session and gets every event.
    assert _parking(url, "mqtt", "config", "--out", str(out), "--port", str(port)).returncode == 0
    got, kicked = _run(out, port, await_events=True)
    assert kicked == [] and sorted(got) == [f"event {i}".encode() for i in range(EVENTS)]


def test_each_gateway_instance_gets_its_own_account(tmp_path: Path) -> None:
    """Two instances on one account would take the session from each other: one each."""
    url = _database(tmp_path / "db")
    out, port = tmp_path / "mqtt", free_port()
    done = _parking(
        url,
        *("mqtt", "config", "--out", str(out), "--port", str(port)),
        *("--service-user", "gw-a", "--service-user", "gw-b"),
    )
    assert done.returncode == 0, done.stderr
    assert "gateways/gw-a.env" in done.stdout and "gateways/gw-b.env" in done.stdout
    a, b = _service(out, "gw-a"), _service(out, "gw-b")
    with _mosquitto(out / "mosquitto.conf", port), Gateway(port, *a) as ga, Gateway(port, *b) as gb:
        sender = _gate_file(out, *TWINS[1])
        publisher = signed_in(port, sender.username, sender.password)
        try:
            for i in range(6):
                own = events_topic(sender.lot_id, sender.gate_id)
                publisher.publish(own, f"e{i}".encode(), qos=1).wait_for_publish(5)
            deadline = time.monotonic() + 10
            while len(ga.got) + len(gb.got) < 6 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            stop(publisher)
        assert ga.kicked == [] and gb.kicked == []
        assert sorted(ga.got + gb.got) == [f"e{i}".encode() for i in range(6)]
