"""The edge's degraded mode on a real (private) Mosquitto, with lpr's reader and no gateway: the
signed allow-list arrives retained; a tampered, foreign-key, older or oversized one is refused,
logged and counted while the lane keeps working with the one it has; a car is decided at the
deadline when nobody answers, and at once while the broker is down; after the broker is back
the event goes up carrying ``decided_offline`` and the edge's decision."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from edge.allowlist import MAX_ALLOWLIST_BYTES, Allowlist, public_key_b64, sign_allowlist
from edge.config import parse_config
from edge.io.build import build_io
from edge.run import EdgeProcess, default_reader
from gateway.protocol import GateEvent, allowlist_topic, decode_event, topic_filter
from simulator.cameras import SyntheticCamera
from tests.conftest import free_port
from tests.integration.edge.lanes import wait_until
from tests.integration.gateway.private_broker import private_mosquitto

pytestmark = pytest.mark.integration

LOT = "lot-offline"
KEY = Ed25519PrivateKey.generate()
KNOWN, STRANGER = "30A-123.45", "51G-888.88"


def signed(version: int, key: Ed25519PrivateKey = KEY, **credits: int) -> bytes:
    return sign_allowlist(
        Allowlist(LOT, version, datetime.now(UTC), 50_000, 200_000, credits or {"30A12345": 0}),
        key,
    )


def publish(port: int, payload: bytes, topic: str | None = None) -> None:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic or allowlist_topic(LOT), payload, qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


@contextmanager
def edge_on(port: int, tmp: Path, decide_after_s: float) -> Iterator[EdgeProcess]:
    config = parse_config(
        {
            "lot_id": LOT,
            "data_dir": str(tmp / "edge"),
            "broker": {"host": "127.0.0.1", "port": port},
            "devices": {"sim": {"kind": "memory"}},
            "lanes": [
                {
                    "gate_id": "in1",
                    "direction": "entry",
                    "username": "gate-in1",
                    "password": "x",
                    "camera": {"kind": "folder", "path": str(tmp)},
                    "trigger": {"kind": "loop", "input": {"device": "sim", "address": 0}},
                    "barrier": {"open": {"device": "sim", "address": 16}},
                }
            ],
            "offline": {
                "decide_after_s": decide_after_s,
                "allowlist_public_key": public_key_b64(KEY),
            },
        }
    )
    io = build_io(config)
    io.lanes["in1"].camera = SyntheticCamera(seed=3, hard_share=0)
    edge = EdgeProcess(config, io=io, read=default_reader(config))
    edge.start(triggers=False, wait_s=10)
    try:
        yield edge
    finally:
        edge.stop()


def test_bad_allowlists_are_refused_and_counted_while_the_lane_keeps_deciding(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    with (
        private_mosquitto(tmp_path / "broker", port),
        edge_on(port, tmp_path, decide_after_s=1.5) as edge,
    ):
        store, metrics = edge.store, edge.metrics
        assert store is not None
        publish(port, signed(10))
        wait_until(lambda: store.current is not None, what="the allow-list")
        outer = json.loads(signed(11))
        body = json.loads(base64.b64decode(outer["body"]))
        body["entries"] = [["51G88888", 200_000]]  # a stranger slips himself in
        outer["body"] = base64.b64encode(json.dumps(body).encode()).decode()
        with caplog.at_level(logging.ERROR, "edge.run"):
            publish(port, json.dumps(outer).encode())
            publish(port, signed(12, Ed25519PrivateKey.generate()))  # not the gateway's key
            publish(port, signed(9))  # an older list replayed
            publish(port, b"x" * (MAX_ALLOWLIST_BYTES + 1))
            wait_until(
                lambda: (
                    sum(
                        metrics.count("edge_allowlist_refused", reason=r)
                        for r in ("bad_signature", "stale", "too_large")
                    )
                    == 4
                ),
                what="four refusals",
            )
        assert metrics.count("edge_allowlist_refused", reason="bad_signature") == 2
        assert metrics.count("edge_allowlist_refused", reason="stale") == 1
        assert metrics.count("edge_allowlist_refused", reason="too_large") == 1
        assert sum("allow-list refused" in r.message for r in caplog.records) == 4
        assert store.current is not None and store.current.version == 10

        runner = edge.runners["in1"]
        started = time.monotonic()
        known = runner.vehicle(KNOWN)
        assert known is not None and (known.decided_by, known.open) == ("offline", True)
        assert time.monotonic() - started >= 1.5  # it waited for the center first
        stranger = runner.vehicle(STRANGER)
        assert stranger is not None and (stranger.open, stranger.reason) == (
            False,
            "not_allowlisted",
        )
        assert edge.io.lanes["in1"].barrier.opens[-1].reason == "offline"
        assert metrics.count("edge_barrier_opens", lane="in1", reason="offline") == 1


def test_broker_down_decides_at_once_and_the_event_goes_up_after_with_its_decision(
    tmp_path: Path,
) -> None:
    port = free_port()
    first = private_mosquitto(tmp_path / "broker", port)
    first.__enter__()
    broker: AbstractContextManager[object] | None = first
    try:
        with edge_on(port, tmp_path, decide_after_s=8) as edge:
            publish(port, signed(1))
            store = edge.store
            assert store is not None
            wait_until(lambda: store.current is not None, what="the allow-list")
            first.__exit__(None, None, None)  # the broker goes away: nobody can answer
            broker = None
            lane = edge.lanes["in1"]
            wait_until(lambda: not lane.connected, what="the lost link")
            started = time.monotonic()
            seen = edge.runners["in1"].vehicle(KNOWN)
            assert seen is not None and (seen.decided_by, seen.open) == ("offline", True)
            assert time.monotonic() - started < 6  # not the 8 s deadline: decided at once
            assert lane.backlog() == 1  # kept until a broker takes it
            event = _first_event_after_restart(tmp_path, port)
            assert event.event_id == seen.event_id and event.decided_offline
            assert event.offline is not None and event.offline.open
            assert (event.offline.reason, event.offline.plate_key) == ("allowlisted", "30A12345")
            assert event.offline.allowlist_version == 1
    finally:
        if broker is not None:
            broker.__exit__(None, None, None)


def _first_event_after_restart(tmp: Path, port: int) -> GateEvent:
    """A new broker on the same port; the lane reconnects and sends what it kept."""
    got: list[bytes] = []
    watcher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    watcher.on_message = lambda _c, _u, msg: got.append(bytes(msg.payload))
    with private_mosquitto(tmp / "broker2", port):
        watcher.connect("127.0.0.1", port)
        watcher.subscribe(topic_filter("events", LOT), qos=1)
        watcher.loop_start()
        try:
            wait_until(lambda: got, 30, "the event after the broker is back")
        finally:
            watcher.disconnect()
            watcher.loop_stop()
    return decode_event(got[0])
