"""Helpers for the edge's integration tests: a started lane on a broker, a recorder of what
crosses the events topic, and waiting."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.lane import Lane, LaneConfig
from gateway.protocol import decode_event, topic_filter
from simulator.cameras import TinyCamera
from tests.e2e.passage_stack import wait_until

__all__ = ["events_seen", "lane", "wait_until"]


def lane(
    broker: tuple[str, int],
    lot: str,
    gate: str,
    tmp: Path,
    *,
    direction: Literal["entry", "exit"] = "entry",
    wait: bool = True,
    on_command: Callable[[Any], None] | None = None,
    **kw: Any,
) -> Lane:
    """A started lane with a tiny camera (events carry the camera's plate text)."""
    cfg = LaneConfig(
        lot,
        gate,
        direction,
        tmp / f"{gate}.sqlite",
        host=broker[0],
        port=broker[1],
        **kw,
    )
    a = Lane(cfg, TinyCamera(), on_command=on_command)
    a.start(wait_s=10 if wait else 0)
    if wait:
        assert a.connected
    return a


@contextmanager
def events_seen(broker: tuple[str, int], lot: str) -> Iterator[list[str]]:
    """Event ids published on the lot's events topics, in the order the broker delivered them
    to a plain subscriber of its own (copies included)."""
    seen: list[str] = []
    lock = threading.Lock()
    ready = threading.Event()
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex}"
    )

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with lock:
            seen.append(decode_event(bytes(msg.payload)).event_id)

    client.on_message = on_message
    client.on_subscribe = lambda *_a: ready.set()
    client.connect(*broker)
    client.subscribe(topic_filter("events", lot), qos=1)
    client.loop_start()
    ready.wait(5)
    try:
        yield seen
    finally:
        client.disconnect()
        client.loop_stop()
