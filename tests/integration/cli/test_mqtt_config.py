"""``parking mqtt config`` end to end: billing's gates in SQLite -> the real command -> the real
Mosquitto started on its output -> gates connect with the credentials they were handed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from billing.adapters.uow import UnitOfWork
from billing.services import add_gate, create_lot, seed_demo
from gateway import migrate
from gateway.broker import MosquittoBroker, free_port, wait_for_port
from gateway.cli.errors import ExitCode
from gateway.db import make_engine, make_session_factory
from gateway.mosquitto_conf import GateCredential
from gateway.mqtt.client import shared, stop
from gateway.protocol import events_topic
from tests.integration.gateway.test_broker_acl import signed_in

pytestmark = pytest.mark.integration

# Under the old ``gate.{lot}.{gate}`` scheme both gates were "gate.A.B.C".
TWINS = (("A.B", "C"), ("A", "B.C"))


def _events_seen(port: int, service: tuple[str, str], gate: GateCredential) -> list[str]:
    """Topics the gateway's service user receives after ``gate`` sent to every twin's topic."""
    gw = signed_in(port, *service)
    publisher = signed_in(port, gate.username, gate.password)
    got: list[str] = []
    subscribed, arrived = threading.Event(), threading.Event()
    gw.on_subscribe = lambda *_a: subscribed.set()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.topic)
        if msg.payload == b"last":
            arrived.set()

    gw.on_message = on_message
    gw.subscribe(shared(f"t{uuid.uuid4().hex[:6]}", "lots/+/gates/+/events"), qos=1)
    try:
        assert subscribed.wait(5)
        for lot, gate_id in TWINS:
            publisher.publish(events_topic(lot, gate_id), b"probe", qos=1).wait_for_publish(5)
        # A marker on the gate's own topic: once it arrives, every earlier probe was routed.
        own = events_topic(gate.lot_id, gate.gate_id)
        publisher.publish(own, b"last", qos=1).wait_for_publish(5)
        assert arrived.wait(5)
        return got
    finally:
        stop(publisher)
        stop(gw)


def _assert_only_own_events(port: int, service: tuple[str, str], gate: GateCredential) -> None:
    seen = _events_seen(port, service, gate)
    assert set(seen) == {events_topic(gate.lot_id, gate.gate_id)}, seen


def test_gates_whose_ids_contain_dots_get_distinct_accounts(tmp_path: Path) -> None:
    gates = [GateCredential(lot, gate, f"pw-{i}") for i, (lot, gate) in enumerate(TWINS)]
    assert gates[0].username != gates[1].username
    broker = MosquittoBroker(tmp_path, free_port(), {"gateway": "gw"}, gates)
    broker.start()
    try:
        for gate in gates:
            _assert_only_own_events(broker.port, ("gateway", "gw"), gate)
        with pytest.raises(ConnectionError):  # a twin's password is not this gate's
            stop(signed_in(broker.port, gates[0].username, gates[1].password))
    finally:
        broker.stop()


def _database(directory: Path) -> str:
    """billing's demo lots (two gates each) plus lots "A.B" and "A" with the twin gates."""
    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(directory / 'parking.db').as_posix()}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        operator = seed_demo(UnitOfWork(sessions)).operator_id
        for lot in ("A.B", "A"):
            create_lot(UnitOfWork(sessions), lot, f"lot {lot}", operator, "hn-central")
        for lot, gate in TWINS:
            add_gate(UnitOfWork(sessions), gate, lot, "entry")
    finally:
        engine.dispose()
    return url


def _parking(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "parking"), *args],
        env={**os.environ, "PARKING_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def _mosquitto(conf: Path, port: int) -> Iterator[None]:
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port("127.0.0.1", port)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def _gate_file(out: Path, lot: str, gate: str) -> GateCredential:
    path = out / "gates" / lot / f"{gate}.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    raw = json.loads(path.read_text())
    assert (raw["lot_id"], raw["gate_id"]) == (lot, gate)
    cred = GateCredential(lot, gate, raw["password"])
    assert raw["username"] == cred.username
    return cred


def _service(out: Path, name: str = "gateway") -> tuple[str, str]:
    text = (out / "gateways" / f"{name}.env").read_text()
    env = dict(line.split("=", 1) for line in text.splitlines() if line)
    assert env["PARKING_MQTT_CLIENT_ID"] == env["PARKING_MQTT_USERNAME"] == name
    return env["PARKING_MQTT_USERNAME"], env["PARKING_MQTT_PASSWORD"]


def test_mqtt_config_from_the_database_to_a_running_broker(tmp_path: Path) -> None:
    url = _database(tmp_path)
    out, port = tmp_path / "mqtt", free_port()
    done = _parking(
        url, "mqtt", "config", "--out", str(out), "--port", str(port), "--bind", "127.0.0.1"
    )
    assert done.returncode == 0, done.stderr
    assert "6 gates in 4 lots: 6 new, 0 kept, 0 removed" in done.stdout
    assert "pw-" not in done.stdout and _service(out)[1] not in done.stdout  # no secrets shown
    for name in ("credentials.json", "gateways/gateway.env", "passwd", "acl", "mosquitto.conf"):
        assert oct((out / name).stat().st_mode & 0o777) == "0o600", name
    twins = [_gate_file(out, lot, gate) for lot, gate in TWINS]
    service = _service(out)
    with _mosquitto(out / "mosquitto.conf", port):
        for gate in twins:  # each connects with its own file and reaches only its own topics
            _assert_only_own_events(port, service, gate)
        with pytest.raises(ConnectionError):
            stop(signed_in(port, twins[0].username, twins[1].password))
        with pytest.raises(ConnectionError):
            stop(signed_in(port, None, None))  # no anonymous access

    # A second run keeps every password (gates in the field keep working) ...
    again = _parking(
        url, "mqtt", "config", "--out", str(out), "--port", str(port), "--bind", "127.0.0.1"
    )
    assert again.returncode == 0, again.stderr
    assert "0 new, 6 kept, 0 removed" in again.stdout
    assert [_gate_file(out, lot, gate) for lot, gate in TWINS] == twins
    assert _service(out) == service
    # ... and --rotate replaces them all.
    rotated = _parking(url, "mqtt", "config", "--out", str(out), "--port", str(port), "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    new = [_gate_file(out, lot, gate) for lot, gate in TWINS]
    assert all(a.password != b.password for a, b in zip(new, twins, strict=True))
    assert _service(out) != service
    with _mosquitto(out / "mosquitto.conf", port):
        _assert_only_own_events(port, _service(out), new[0])
        with pytest.raises(ConnectionError):
            stop(signed_in(port, twins[0].username, twins[0].password))  # the old one is void


def test_mqtt_config_explains_what_is_missing_instead_of_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'empty.db').as_posix()}"
    done = _parking(url, "mqtt", "config", "--out", str(tmp_path / "mqtt"))
    assert done.returncode == ExitCode.DATABASE
    assert "parking db upgrade" in done.stderr and "Traceback" not in done.stderr
    migrate.upgrade(url)
    done = _parking(url, "mqtt", "config", "--out", str(tmp_path / "mqtt"))
    assert done.returncode == ExitCode.REFUSED and "no gates" in done.stderr
    (tmp_path / "mqtt").mkdir(exist_ok=True)
    (tmp_path / "mqtt" / "credentials.json").write_text("{not json")
    url = _database(tmp_path / "with-gates")
    done = _parking(url, "mqtt", "config", "--out", str(tmp_path / "mqtt"))
    assert done.returncode == ExitCode.FILE and "not a credentials file" in done.stderr
    assert "Traceback" not in done.stderr
