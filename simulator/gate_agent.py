"""A gate's edge computer: camera in, gate events out over MQTT, barrier commands applied.

Every captured event is written to a local SQLite buffer first and sent from there, one at a time
in capture order, each only after the broker acknowledged the previous one (QoS 1 PUBACK). So a
gate that loses its link keeps capturing, and on reconnect replays its backlog in order; a crash
of the agent loses nothing either. The retained status topic says online/offline, the offline
form being the connection's last will. The agent talks to the system only over MQTT, with its
own credentials, using the public wire format in ``gateway.protocol``.

Barrier commands are applied only when fresh (issued within ``max_command_age_s``) and for an
event this gate sent: a gate reconnecting to its persistent session after an outage must not
open for commands meant for cars long gone (the gateway also sets a v5 message expiry).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.protocol import (
    BarrierCommand,
    GateEvent,
    GateStatus,
    ProtocolError,
    commands_topic,
    decode_command,
    encode_event,
    encode_status,
    events_topic,
    status_topic,
)

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    captured_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE TABLE IF NOT EXISTS barrier_log (
    event_id TEXT PRIMARY KEY,
    open INTEGER NOT NULL,
    reason TEXT NOT NULL,
    display TEXT NOT NULL,
    fare_vnd INTEGER,
    received_at TEXT NOT NULL
);
"""


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Events go out at once (TCP_NODELAY): paho leaves Nagle's algorithm on, which holds a
    small packet until the broker's delayed ACK of the previous one."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Camera(Protocol):
    def capture(self, plate_text: str | None) -> tuple[list[bytes], bytes | None]:
        """JPEG frames (1-5) of the vehicle at the lane and an optional plate crop."""


class SyntheticCamera:
    """Frames drawn by the plate renderer for a given plate (or a random one)."""

    def __init__(self, frames_per_event: int = 2, seed: int | None = None, quality: int = 80):
        import numpy as np

        self._rng = np.random.default_rng(seed)
        self._n = frames_per_event
        self._quality = quality
        self._lock = threading.Lock()

    def capture(self, plate_text: str | None) -> tuple[list[bytes], bytes | None]:
        from simulator.plates import render_frame, spec_from_text

        with self._lock:
            spec = spec_from_text(plate_text) if plate_text else None
            frames = [
                render_frame(self._rng, spec, jpeg_quality=self._quality, night=False)
                for _ in range(self._n)
            ]
        return [f.jpeg for f in frames if f.jpeg], None


class FolderCamera:
    """JPEG files from a folder, in name order, round robin (e.g. recordings of a real lane)."""

    def __init__(self, folder: Path) -> None:
        self._files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg"})
        if not self._files:
            raise ValueError(f"no JPEG files in {folder}")
        self._next = 0

    def capture(self, plate_text: str | None) -> tuple[list[bytes], bytes | None]:
        path = self._files[self._next % len(self._files)]
        self._next += 1
        return [path.read_bytes()], None


class TinyCamera:
    """A minimal valid JPEG: for gates whose camera reads the plate itself (text in the event)."""

    _JPEG: bytes | None = None

    def capture(self, plate_text: str | None) -> tuple[list[bytes], bytes | None]:
        if TinyCamera._JPEG is None:
            import io

            from PIL import Image

            buf = io.BytesIO()
            Image.new("RGB", (64, 32), (200, 200, 200)).save(buf, format="JPEG", quality=60)
            TinyCamera._JPEG = buf.getvalue()
        return [TinyCamera._JPEG], None


@dataclass(frozen=True)
class AppliedCommand:
    event_id: str
    open: bool
    reason: str
    display: str
    fare_vnd: int | None
    received_at: float  # time.perf_counter()


@dataclass
class AgentConfig:
    lot_id: str
    gate_id: str
    direction: Literal["entry", "exit"]
    buffer_path: Path
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    protocol: Literal["v5", "v311"] = "v5"
    keepalive: int = 15
    # TLS to the broker: a gate's password must not cross the network in the clear. The CA
    # that signed the broker's certificate (None: the system's trust store) and an optional
    # client certificate and key.
    tls: bool = False
    tls_ca_file: Path | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # Send a lane's next event only once the previous one was answered (or this many seconds).
    await_command_s: float = 0.0
    # A command issued longer ago than this (by this gate's clock) is ignored: after an outage
    # the barrier must not open for a car that left long ago.
    max_command_age_s: float = 30.0
    # Sent events (and barrier commands) kept in the buffer; older ones are pruned, and an
    # answered event's images are dropped at once.
    keep_sent: int = 1000


class GateAgent:
    def __init__(
        self,
        cfg: AgentConfig,
        camera: Camera | None = None,
        on_command: Callable[[BarrierCommand], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.camera = camera or TinyCamera()
        self._on_command_hook = on_command
        cfg.buffer_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(cfg.buffer_path, check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._db_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._answered: dict[str, threading.Event] = {}
        self.commands: dict[str, AppliedCommand] = {}
        self.sent_at: dict[str, float] = {}
        self._raw_sent: set[str] = set()
        self._sender: threading.Thread | None = None
        self._connect_at = datetime.now(UTC)  # of the current connection (see _before_connect)
        self._client = self._make_client()

    @property
    def lane(self) -> str:
        return f"{self.cfg.lot_id}/{self.cfg.gate_id}"

    # --- MQTT --------------------------------------------------------------------------------

    def _status(self, online: bool, at: datetime | None = None) -> bytes:
        return encode_status(
            GateStatus(
                lot_id=self.cfg.lot_id,
                gate_id=self.cfg.gate_id,
                online=online,
                at=at or datetime.now(UTC),
                buffered=self.backlog() if online else 0,
            )
        )

    def _make_client(self) -> mqtt.Client:
        v5 = self.cfg.protocol == "v5"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            # "/" cannot appear in an id: lot A-B gate C and lot A gate B-C stay two clients
            client_id=f"gate/{self.cfg.lot_id}/{self.cfg.gate_id}",
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else False,
        )
        if self.cfg.username:
            client.username_pw_set(self.cfg.username, self.cfg.password)
        if self.cfg.tls:
            client.tls_set(
                ca_certs=str(self.cfg.tls_ca_file) if self.cfg.tls_ca_file else None,
                certfile=str(self.cfg.tls_certfile) if self.cfg.tls_certfile else None,
                keyfile=str(self.cfg.tls_keyfile) if self.cfg.tls_keyfile else None,
            )
        client.on_pre_connect = self._before_connect
        client.reconnect_delay_set(1, 10)
        client.on_socket_open = _no_delay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _before_connect(self, client: mqtt.Client, _userdata: Any) -> None:
        """Before every connect and reconnect: a last will stamped now, and "online" to match.

        Billing keeps a gate's newest report and ignores older ones. A will written once when
        the client was made would be older than every later "online" and so ignored after a
        crash, leaving the gate "online" for ever. The will and this connection's "online" carry
        the same time instead: the will is never older than the "online" it follows (an equal
        time is not older, so it wins), and a later connection's reports are newer than both.
        """
        self._connect_at = datetime.now(UTC)
        client.will_set(
            status_topic(self.cfg.lot_id, self.cfg.gate_id),
            self._status(False, self._connect_at),
            qos=1,
            retain=True,
        )

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.error("gate %s refused by the broker: %s", self.lane, reason)
            return
        client.subscribe(commands_topic(self.cfg.lot_id, self.cfg.gate_id), qos=1)
        client.publish(
            status_topic(self.cfg.lot_id, self.cfg.gate_id),
            self._status(True, self._connect_at),
            qos=1,
            retain=True,
        )
        self._connected.set()
        self._wake.set()
        log.info("gate %s online (%d buffered)", self.lane, self.backlog())

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("gate %s lost the broker (%s); buffering", self.lane, reason)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        received = time.perf_counter()
        try:
            command = decode_command(bytes(msg.payload))
        except ProtocolError as exc:
            log.warning("gate %s ignored a bad command: %s", self.lane, exc)
            return
        if (command.lot_id, command.gate_id) != (self.cfg.lot_id, self.cfg.gate_id):
            log.warning("gate %s ignored a command for another gate", self.lane)
            return
        if command.event_id in self.commands:
            return  # repeated command (redelivery or duplicate event): already applied
        age = (datetime.now(UTC) - command.issued_at).total_seconds()
        if age > self.cfg.max_command_age_s:
            log.warning(
                "gate %s ignored a stale command (issued %.0fs ago, limit %.0fs)",
                self.lane,
                age,
                self.cfg.max_command_age_s,
                extra={"event_id": command.event_id},
            )
            return
        if not self._sent(command.event_id):
            log.warning(
                "gate %s ignored a command for an event it did not send",
                self.lane,
                extra={"event_id": command.event_id},
            )
            return
        applied = AppliedCommand(
            command.event_id,
            command.open,
            command.reason,
            command.display,
            command.fare_vnd,
            received,
        )
        self.commands[command.event_id] = applied
        with self._db_lock:
            self._db.execute(
                "INSERT OR IGNORE INTO barrier_log VALUES (?, ?, ?, ?, ?, ?)",
                (
                    command.event_id,
                    int(command.open),
                    command.reason,
                    command.display,
                    command.fare_vnd,
                    datetime.now(UTC).isoformat(),
                ),
            )
            self._prune()
        log.info(
            "gate %s barrier %s | %s",
            self.lane,
            "OPEN" if command.open else "CLOSED",
            command.display,
            extra={"event_id": command.event_id},
        )
        waiter = self._answered.get(command.event_id)
        if waiter is not None:
            waiter.set()
        if self._on_command_hook is not None:
            self._on_command_hook(command)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, wait_s: float = 10.0) -> None:
        """Connect (in the background: the agent works offline too) and start the sender."""
        props = None
        if self.cfg.protocol == "v5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self._client.connect_async(
            self.cfg.host,
            self.cfg.port,
            keepalive=self.cfg.keepalive,
            clean_start=False if self.cfg.protocol == "v5" else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        self._client.loop_start()
        self._sender = threading.Thread(target=self._send_loop, name=f"gate-{self.lane}")
        self._sender.daemon = True
        self._sender.start()
        if wait_s:
            self._connected.wait(wait_s)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._sender is not None:
            self._sender.join(timeout=5)
        if self._connected.is_set():
            info = self._client.publish(
                status_topic(self.cfg.lot_id, self.cfg.gate_id),
                self._status(False),
                qos=1,
                retain=True,
            )
            info.wait_for_publish(2)
        self._client.disconnect()
        self._client.loop_stop()
        with self._db_lock:
            self._db.close()

    def go_offline(self) -> None:
        """Simulate a lost link: drop the connection and stop reconnecting until go_online."""
        self._connected.clear()
        self._client.disconnect()
        self._client.loop_stop()

    def crash(self) -> None:
        """Simulate a power cut: the link drops with no DISCONNECT, so the broker sends the will."""
        self._stopping.set()
        self._connected.clear()
        self._client.loop_stop()
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def go_online(self) -> None:
        self._client.reconnect()
        self._client.loop_start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # --- capture and send -----------------------------------------------------------------

    def capture(
        self,
        plate_text: str | None = None,
        *,
        camera_text: bool = False,
        plate_confidence: float | None = None,
        frames: Sequence[bytes] | None = None,
        event_id: str | None = None,
        captured_at: datetime | None = None,
    ) -> GateEvent:
        """A vehicle at the lane: build the event, buffer it, let the sender publish it."""
        if frames is None:
            shot, crop = self.camera.capture(plate_text)
        else:
            shot, crop = list(frames), None
        event_id = event_id or uuid.uuid4().hex
        self._answered.setdefault(event_id, threading.Event())
        # The sequence number is in the event's bytes, so it is taken and the row inserted in
        # one transaction: two captures at once never share a number.
        with self._db_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                event = GateEvent(
                    event_id=event_id,
                    lot_id=self.cfg.lot_id,
                    gate_id=self.cfg.gate_id,
                    direction=self.cfg.direction,
                    captured_at=captured_at or datetime.now(UTC),
                    frames=tuple(shot),
                    plate_crop=crop,
                    plate_text=plate_text if camera_text else None,
                    plate_confidence=plate_confidence if camera_text else None,
                    seq=self._next_seq(),
                )
                self._db.execute(
                    "INSERT OR IGNORE INTO outbox (seq, event_id, payload, captured_at) "
                    "VALUES (?, ?, ?, ?)",
                    (event.seq, event.event_id, encode_event(event), event.captured_at.isoformat()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._wake.set()
        return event

    def _next_seq(self) -> int:
        """One more than any number ever used here (pruned rows included: never reused)."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return (int(row[0]) if row else 0) + 1

    def publish_raw(self, payload: bytes, event_id: str) -> None:
        """Send bytes as they are (tests: the same event again, malformed payloads)."""
        self._answered.setdefault(event_id, threading.Event())
        self._raw_sent.add(event_id)
        info = self._client.publish(events_topic(self.cfg.lot_id, self.cfg.gate_id), payload, qos=1)
        info.wait_for_publish(5)

    def _sent(self, event_id: str) -> bool:
        """Whether this gate sent (or buffered) the event: only its own events get commands."""
        if event_id in self._raw_sent:
            return True
        with self._db_lock:
            row = self._db.execute(
                "SELECT 1 FROM outbox WHERE event_id = ?", (event_id,)
            ).fetchone()
        return row is not None

    def backlog(self) -> int:
        with self._db_lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return int(n)

    def wait_command(self, event_id: str, timeout: float) -> AppliedCommand | None:
        waiter = self._answered.setdefault(event_id, threading.Event())
        waiter.wait(timeout)
        return self.commands.get(event_id)

    def _next_unsent(self) -> tuple[int, str, bytes] | None:
        with self._db_lock:
            row = self._db.execute(
                "SELECT seq, event_id, payload FROM outbox WHERE sent_at IS NULL "
                "ORDER BY seq LIMIT 1"
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]))

    def _send_loop(self) -> None:
        topic_name = events_topic(self.cfg.lot_id, self.cfg.gate_id)
        while not self._stopping.is_set():
            row = self._next_unsent() if self._connected.is_set() else None
            if row is None:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            seq, event_id, payload = row
            self.sent_at.setdefault(event_id, time.perf_counter())
            info = self._client.publish(topic_name, payload, qos=1)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(5)
            if not info.is_published():
                time.sleep(0.2)  # not acknowledged: the same row goes again, order kept
                continue
            with self._db_lock:
                self._db.execute(
                    "UPDATE outbox SET sent_at = ? WHERE seq = ?",
                    (datetime.now(UTC).isoformat(), seq),
                )
                self._prune()
            if self.cfg.await_command_s > 0:
                self.wait_command(event_id, self.cfg.await_command_s)

    def _prune(self) -> None:
        """Keep the buffer bounded (call with the lock held).

        An event sent and answered no longer needs its images. Beyond the newest ``keep_sent``
        sent events, rows go once answered, or once any answer would be too old to apply
        (``max_command_age_s``), so an event the gateway never answers does not stay for ever
        either; a row still waiting for its answer is kept, so that answer is recognised as this
        gate's own. Unsent events are never touched: they are what the buffer is for.
        """
        self._db.execute(
            "UPDATE outbox SET payload = X'' WHERE sent_at IS NOT NULL AND length(payload) > 0 "
            "AND event_id IN (SELECT event_id FROM barrier_log)"
        )
        too_old = (datetime.now(UTC) - timedelta(seconds=self.cfg.max_command_age_s)).isoformat()
        self._db.execute(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND seq <= (SELECT seq FROM outbox "
            "WHERE sent_at IS NOT NULL ORDER BY seq DESC LIMIT 1 OFFSET ?) "
            "AND (event_id IN (SELECT event_id FROM barrier_log) OR sent_at < ?)",
            (self.cfg.keep_sent, too_old),
        )
        self._db.execute(
            "DELETE FROM barrier_log WHERE rowid <= (SELECT rowid FROM barrier_log "
            "ORDER BY rowid DESC LIMIT 1 OFFSET ?)",
            (self.cfg.keep_sent,),
        )

    def barrier_log(self) -> list[tuple[str, bool, str]]:
        with self._db_lock:
            rows = self._db.execute("SELECT event_id, open, display FROM barrier_log").fetchall()
        return [(r[0], bool(r[1]), r[2]) for r in rows]
