"""One gate's MQTT connection: its own credentials and client id, a last will, its status, the
commands for its events, and publishes whose broker acknowledgement can be waited for.

paho's ``MQTTMessageInfo.is_published()`` raises ``RuntimeError`` for a message published while
the connection was down (its return code stays ``NO_CONN`` even after paho sends it on
reconnect), and that exception once killed a gate's sender thread for good. Acknowledgements are
therefore taken from the ``on_publish`` callback, by packet id, and a wait here never raises: it
says whether the broker took the message (:class:`Sent`). Packet ids are reused (1-65535), so an
acknowledgement counts only if it came after the publish it is matched with.

The last will and the connection's "online" status carry the same time, stamped before every
(re)connect: billing keeps a gate's newest report and lets an equal time win, so the will of a
crashed gate replaces the "online" before it, and a later connection's reports are newer than
both. Statuses republished while connected (the counts changed) keep that time.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.protocol import allowlist_topic, commands_topic, events_topic, status_topic

log = logging.getLogger(__name__)

QOS = 1


@dataclass(frozen=True)
class BrokerAccount:
    """Where and as whom a gate connects (``parking mqtt config`` writes one per gate)."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    protocol: Literal["v5", "v311"] = "v5"
    keepalive: int = 15
    session_expiry_s: int = 3600
    # TLS: a gate's password must not cross the network in the clear. The CA that signed the
    # broker's certificate (None: the system's trust store) and an optional client certificate.
    tls: bool = False
    tls_ca_file: Path | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None


class Sent(enum.Enum):
    ACKNOWLEDGED = "acknowledged"  # the broker took it (PUBACK, success)
    REFUSED = "refused"  # the broker answered with a failure reason code (MQTT v5)
    NO_ANSWER = "no answer"  # not connected, or no PUBACK in time


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Events go out at once (TCP_NODELAY): paho leaves Nagle's algorithm on, which holds a
    small packet until the broker's delayed ACK of the previous one."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


StatusFn = Callable[[bool, datetime], bytes]


class GateLink:
    def __init__(
        self,
        lot_id: str,
        gate_id: str,
        account: BrokerAccount,
        *,
        status: StatusFn,
        on_command: Callable[[bytes], None],
        on_connect: Callable[[], None] = lambda: None,
        on_allowlist: Callable[[bytes], object] | None = None,
    ) -> None:
        self.lot_id, self.gate_id = lot_id, gate_id
        # The lot's signed allow-list (retained): one lane of the edge subscribes for all.
        self._on_allowlist = on_allowlist
        self._allowlist_topic = allowlist_topic(lot_id)
        self.account = account
        self._status = status
        self._on_command = on_command
        self._after_connect = on_connect
        self.connected = threading.Event()
        self._closing = threading.Event()
        self._connect_at = datetime.now(UTC)  # of the current connection (see _before_connect)
        self._acks: dict[int, tuple[float, bool, str]] = {}  # mid -> (when, ok, reason)
        self._acked = threading.Condition()
        self.client = self._make_client()

    @property
    def lane(self) -> str:
        return f"{self.lot_id}/{self.gate_id}"

    def _make_client(self) -> mqtt.Client:
        a = self.account
        v5 = a.protocol == "v5"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            # "/" cannot appear in an id: lot A-B gate C and lot A gate B-C stay two clients
            client_id=f"gate/{self.lot_id}/{self.gate_id}",
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else False,
        )
        if a.username:
            client.username_pw_set(a.username, a.password)
        if a.tls:
            client.tls_set(
                ca_certs=str(a.tls_ca_file) if a.tls_ca_file else None,
                certfile=str(a.tls_certfile) if a.tls_certfile else None,
                keyfile=str(a.tls_keyfile) if a.tls_keyfile else None,
            )
        client.on_pre_connect = self._before_connect
        client.reconnect_delay_set(1, 10)
        client.on_socket_open = _no_delay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    # --- paho's thread ------------------------------------------------------------------------

    def _before_connect(self, client: mqtt.Client, _userdata: Any) -> None:
        self._connect_at = datetime.now(UTC)
        client.will_set(
            status_topic(self.lot_id, self.gate_id),
            self._status(False, self._connect_at),
            qos=QOS,
            retain=True,
        )

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.error("gate %s refused by the broker: %s", self.lane, reason)
            return
        client.subscribe(commands_topic(self.lot_id, self.gate_id), qos=QOS)
        if self._on_allowlist is not None:
            client.subscribe(self._allowlist_topic, qos=QOS)
        self.publish_status()
        self.connected.set()
        try:
            self._after_connect()
        except Exception:  # paho's thread must survive whatever the lane does
            log.exception("gate %s: after-connect hook failed", self.lane)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        if not self._closing.is_set():
            log.warning("gate %s lost the broker (%s); buffering", self.lane, reason)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            if msg.topic == self._allowlist_topic:
                if self._on_allowlist is not None and msg.payload:
                    self._on_allowlist(bytes(msg.payload))
                return
            self._on_command(bytes(msg.payload))
        except Exception:
            log.exception("gate %s: handling a message failed", self.lane)

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        failed = bool(getattr(reason, "is_failure", False))
        with self._acked:
            self._acks[mid] = (time.monotonic(), not failed, str(reason))
            if len(self._acks) > 4096:  # statuses are never waited for: forget old entries
                cutoff = time.monotonic() - 600
                for old in [m for m, (t, _, _) in self._acks.items() if t < cutoff]:
                    del self._acks[old]
            self._acked.notify_all()

    # --- publishing ---------------------------------------------------------------------------

    def publish_event(self, payload: bytes, timeout: float) -> tuple[Sent, str]:
        """Publish a gate event (QoS 1) and wait up to ``timeout`` for the broker's answer.

        Never raises for a lost connection: paho keeps the message and sends it after the
        reconnect, and the caller tries again later anyway.
        """
        if not self.connected.is_set():
            return Sent.NO_ANSWER, "not connected"
        started = time.monotonic()
        info = self.client.publish(events_topic(self.lot_id, self.gate_id), payload, qos=QOS)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            return Sent.NO_ANSWER, mqtt.error_string(info.rc)
        deadline = started + timeout
        with self._acked:
            while True:
                ack = self._acks.get(info.mid)
                if ack is not None and ack[0] >= started:
                    del self._acks[info.mid]
                    return (Sent.ACKNOWLEDGED if ack[1] else Sent.REFUSED), ack[2]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closing.is_set():
                    return Sent.NO_ANSWER, "no acknowledgement in time"
                self._acked.wait(min(remaining, 0.5))

    def publish_raw(self, payload: bytes, timeout: float = 5.0) -> tuple[Sent, str]:
        """Bytes as they are, on the events topic (tests: copies, malformed payloads)."""
        return self.publish_event(payload, timeout)

    def publish_status(self) -> None:
        """This connection's status (retained), with the lane's current counts."""
        with contextlib.suppress(ValueError, RuntimeError):
            self.client.publish(
                status_topic(self.lot_id, self.gate_id),
                self._status(True, self._connect_at),
                qos=QOS,
                retain=True,
            )

    # --- lifecycle ------------------------------------------------------------------------

    def start(self, wait_s: float = 10.0) -> None:
        """Connect in the background (a gate works offline too); wait up to ``wait_s``."""
        a = self.account
        props = None
        if a.protocol == "v5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = a.session_expiry_s
        self.client.connect_async(
            a.host,
            a.port,
            keepalive=a.keepalive,
            clean_start=False if a.protocol == "v5" else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        self.client.loop_start()
        if wait_s:
            self.connected.wait(wait_s)

    def interrupt(self) -> None:
        """End any wait for an acknowledgement now (the lane is stopping)."""
        self._closing.set()
        with self._acked:
            self._acked.notify_all()

    def stop(self) -> None:
        """Say "offline" (retained) when connected, then disconnect cleanly."""
        self._closing.set()
        if self.connected.is_set():
            info = self.client.publish(
                status_topic(self.lot_id, self.gate_id),
                self._status(False, datetime.now(UTC)),
                qos=QOS,
                retain=True,
            )
            with contextlib.suppress(ValueError, RuntimeError):
                info.wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()
        with self._acked:
            self._acked.notify_all()

    def go_offline(self) -> None:
        """Drop the connection and stop reconnecting until :meth:`go_online` (a lost link)."""
        self.connected.clear()
        self.client.disconnect()
        self.client.loop_stop()

    def go_online(self) -> None:
        self.client.reconnect()
        self.client.loop_start()

    def crash(self) -> None:
        """A power cut: the link drops with no DISCONNECT, so the broker sends the will."""
        self._closing.set()
        self.connected.clear()
        self.client.loop_stop()
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
