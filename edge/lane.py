"""A lane of the lot's edge computer: a vehicle captured, its event kept until the center has
decided it, and the barrier moved by that decision.

The path of one event:

1. :meth:`Lane.capture` takes the camera's frames, makes them fit one event (``edge.fit``:
   shrunk, or refused with a clear log line, never sent over the size limit) and writes the
   encoded event to the buffer on disk (``edge.buffer``) before anything is sent: a lane that
   has lost its link keeps capturing, and a restart of the edge computer loses nothing.
2. The sender (a supervised thread, ``edge.supervisor``: no exception ends it) publishes the
   buffer's next event with QoS 1 and waits for the broker's PUBACK before the next one, so
   events leave in capture order. A PUBACK is not the end: an event without a decision is
   published again, with the same id, after ``resend_after_s``, then twice as long each time up
   to ``resend_max_s``, and at once after every reconnect (the broker may have lost what it had
   acknowledged). It is resent in its place by sequence number, but never holds back the events
   captured after it. Billing is idempotent by event id, so a copy costs the gateway a lookup.
3. The decision is the barrier command carrying the event's id (``edge.link`` hands it over).
   It ends the resending whatever its age. The barrier moves only for a fresh one: issued within
   ``max_command_age_s`` and for an event captured here within that time, since a lane back
   from an outage must not open for a car long gone (the center answers a copy sent after a long
   outage with a freshly issued command). A command for an event this lane did not send, or a
   repeat, changes nothing.
4. The gate's retained status reports ``buffered`` (never acknowledged), ``unanswered`` (sent,
   no decision yet) and the wait of the oldest unanswered event; the gateway turns those into a
   metric and an alert per gate.

Offline decisions (``edge.offline``, driven by ``edge.run``): when no decision came in time,
the edge decides itself and claims the event here (:meth:`Lane.claim_offline`): the buffered
event is rewritten with ``decided_offline`` and the local decision (:meth:`Lane.record_offline`)
and sent again at once. It stays unanswered and is resent until the center's decision arrives,
which then ends the resending; a barrier the edge opened is never touched by it (a late
"closed" changes nothing, a late "open" does not pulse again). :meth:`Lane._on_command` is the
one place a decision lands.

Stopping is an event (:meth:`Lane.stop`), never an exception: a Ctrl-C unwinding through the
buffer's SQLite transaction once turned into an error the traffic loop swallowed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from edge.buffer import Backlog, EventBuffer, ResendPolicy
from edge.camera import Camera
from edge.fit import CaptureRefused, fit_capture
from edge.link import BrokerAccount, GateLink, Sent
from edge.supervisor import Supervised
from gateway.protocol import (
    MAX_EVENT_BYTES,
    BarrierCommand,
    EdgeRead,
    GateEvent,
    GateStatus,
    OfflineDecision,
    ProtocolError,
    decode_command,
    decode_event,
    encode_event,
    encode_status,
)

log = logging.getLogger(__name__)

REPORT_GAP_S = 1.0  # statuses for changed counts at most this often
REMEMBERED = 100_000  # decisions and send times kept in memory (the buffer keeps its own)

K = TypeVar("K")
V = TypeVar("V")


class _Recent(OrderedDict[K, V], Generic[K, V]):
    """A dict that forgets its oldest entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            self.popitem(last=False)


@dataclass(frozen=True)
class Decision:
    """The center's answer to one of this lane's events, as the lane received it."""

    event_id: str
    open: bool
    reason: str
    display: str
    fare_vnd: int | None
    received_at: float  # time.perf_counter()
    actuated: bool  # False: it came too late to move the barrier (still the event's answer)
    plate: str | None = None  # the plate the center settled the passage under


@dataclass
class LaneConfig:
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
    # TLS to the broker: the CA that signed its certificate (None: the system's trust store)
    # and an optional client certificate and key.
    tls: bool = False
    tls_ca_file: Path | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # Send a lane's next new event only once the previous one was answered (or this many s).
    await_command_s: float = 0.0
    # A decision moves the barrier only if issued, and its event captured, within this many
    # seconds (it still counts as the answer): after an outage, never open for a car long gone.
    max_command_age_s: float = 30.0
    # Answered events kept in the buffer (their frames are dropped at once); unanswered ones
    # are always kept.
    keep_sent: int = 1000
    # Resend an event without a decision this long after its first send, doubling up to the cap.
    resend_after_s: float = 10.0
    resend_max_s: float = 60.0
    # How long to wait for the broker's PUBACK before trying the same event again.
    puback_timeout_s: float = 10.0
    # While events wait for their decision, the status is republished this often (their age).
    status_interval_s: float = 15.0

    @property
    def account(self) -> BrokerAccount:
        return BrokerAccount(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            protocol=self.protocol,
            keepalive=self.keepalive,
            tls=self.tls,
            tls_ca_file=self.tls_ca_file,
            tls_certfile=self.tls_certfile,
            tls_keyfile=self.tls_keyfile,
        )


class Lane:
    def __init__(
        self,
        cfg: LaneConfig,
        camera: Camera | None = None,
        on_command: Callable[[BarrierCommand], None] | None = None,
        on_answered: Callable[[str], None] | None = None,
        on_allowlist: Callable[[bytes], object] | None = None,
    ) -> None:
        self.cfg = cfg
        self.camera = camera
        self._actuate = on_command  # the barrier: called for fresh decisions only
        self._on_answered = on_answered  # every event's first decision (the credit ledger)
        # Events this lane decided alone and the center has not answered yet.
        self._offline: dict[str, OfflineDecision] = {}
        self.deciding_offline = False  # the last decision was the edge's own (status report)
        self._buffer = EventBuffer(
            cfg.buffer_path,
            keep=cfg.keep_sent,
            policy=ResendPolicy(cfg.resend_after_s, cfg.resend_max_s),
        )
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._waiters: dict[str, threading.Event] = {}
        self.decisions: _Recent[str, Decision] = _Recent(REMEMBERED)
        self.sent_at: _Recent[str, float] = _Recent(REMEMBERED)  # first publish, perf_counter
        self._raw_sent: set[str] = set()
        self._reported: tuple[int, int, bool, int] | None = None
        self._reported_at = 0.0
        self._link = GateLink(
            cfg.lot_id,
            cfg.gate_id,
            cfg.account,
            status=self._status,
            on_command=self._on_command,
            on_connect=self._on_connect,
            on_allowlist=on_allowlist,
        )
        self._sender = Supervised(f"gate-{self.lane}", self._send_step, self._stopping)

    @property
    def lane(self) -> str:
        return f"{self.cfg.lot_id}/{self.cfg.gate_id}"

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, wait_s: float = 10.0) -> None:
        """Connect (in the background: the lane works offline too) and start the sender."""
        self._link.start(wait_s=0)
        self._sender.start()
        if wait_s:
            self._link.connected.wait(wait_s)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._link.interrupt()  # a sender waiting for a PUBACK stops waiting
        self._sender.join(timeout=5)
        self._link.stop()
        self._buffer.close()

    def crash(self) -> None:
        """A power cut: no goodbye (the broker publishes the will); the buffer stays on disk."""
        self._stopping.set()
        self._wake.set()
        self._link.crash()

    def go_offline(self) -> None:
        """A lost link: the connection drops and stays down until :meth:`go_online`."""
        self._link.go_offline()

    def go_online(self) -> None:
        self._link.go_online()

    @property
    def connected(self) -> bool:
        return self._link.connected.is_set()

    @property
    def sender_failures(self) -> int:
        """Exceptions the sender survived (each logged)."""
        return self._sender.failures

    # --- capture --------------------------------------------------------------------------

    def capture(
        self,
        plate_text: str | None = None,
        *,
        camera_text: bool = False,
        plate_confidence: float | None = None,
        frames: Sequence[bytes] | None = None,
        event_id: str | None = None,
        captured_at: datetime | None = None,
        plate_crop: bytes | None = None,
        edge_read: EdgeRead | None = None,
    ) -> GateEvent:
        """A vehicle at the lane: build the event, buffer it, let the sender publish it.

        ``plate_text`` goes to the camera (a simulated one draws it) and, with ``camera_text``,
        into the event as the camera's own reading. ``edge_read``: this box's own read of the
        plate (``edge.reader.edge_read_of``), sent with the crop it was read from
        (``plate_crop``, else the camera's). Raises :class:`CaptureRefused` (logged) when
        the capture cannot become a valid event; nothing is buffered then.
        """
        if frames is None:
            if self.camera is None:
                raise CaptureRefused("this lane has no camera: pass the frames")
            shot, crop = self.camera.capture(plate_text)
        else:
            shot, crop = list(frames), None
        crop = plate_crop if plate_crop is not None else crop
        try:
            fitted = fit_capture(shot, crop)
        except CaptureRefused as exc:
            log.error("gate %s refused a capture (%s): nothing buffered or sent", self.lane, exc)
            raise
        if fitted.changes:
            log.warning(
                "gate %s shrank a capture to fit one event: %s",
                self.lane,
                "; ".join(fitted.changes),
            )
        if edge_read is not None and fitted.crop is None:
            log.warning(
                "gate %s: the edge read has no plate crop to travel with: sent without it "
                "(the center reads the frames)",
                self.lane,
            )
            edge_read = None
        event_id = event_id or uuid.uuid4().hex
        at = captured_at or datetime.now(UTC)
        made: list[GateEvent] = []

        def encode(seq: int) -> bytes:
            event = GateEvent(
                event_id=event_id,
                lot_id=self.cfg.lot_id,
                gate_id=self.cfg.gate_id,
                direction=self.cfg.direction,
                captured_at=at,
                frames=fitted.frames,
                plate_crop=fitted.crop,
                plate_text=plate_text if camera_text else None,
                plate_confidence=plate_confidence if camera_text else None,
                seq=seq,
                edge_read=edge_read,
            )
            made.append(event)
            return encode_event(event)

        try:
            self._buffer.add(event_id, at.isoformat(), encode)
        except ValueError as exc:  # pydantic's ValidationError, ProtocolError, a reused id
            log.error("gate %s refused a capture (%s): nothing buffered or sent", self.lane, exc)
            raise CaptureRefused(str(exc)) from None
        self._wake.set()
        return made[-1]

    def publish_raw(self, payload: bytes, event_id: str) -> Sent:
        """Send bytes as they are, once (tests: the same event again, malformed payloads)."""
        self._raw_sent.add(event_id)
        outcome, _ = self._link.publish_raw(payload)
        return outcome

    # --- what the lane knows ----------------------------------------------------------------

    def backlog(self) -> int:
        """Captured events the broker has not acknowledged yet."""
        return self._buffer.backlog().buffered

    def counts(self) -> Backlog:
        return self._buffer.backlog()

    def unanswered(self) -> list[str]:
        """Events (buffered or sent) still waiting for their decision, in capture order."""
        return self._buffer.unanswered_ids()

    def decision(self, event_id: str) -> Decision | None:
        return self.decisions.get(event_id)

    def wait_command(self, event_id: str, timeout: float) -> Decision | None:
        """The event's decision, waiting up to ``timeout`` seconds for it."""
        with self._lock:
            found = self.decisions.get(event_id)
            if found is not None:
                return found
            waiter = self._waiters.setdefault(event_id, threading.Event())
        waiter.wait(timeout)
        with self._lock:
            if not waiter.is_set():
                self._waiters.pop(event_id, None)
            return self.decisions.get(event_id)

    def barrier_log(self) -> list[tuple[str, bool, str]]:
        """(event id, open, display) of the answered events still in the buffer."""
        return [
            (e, bool(a.get("open")), str(a.get("display", ""))) for e, a in self._buffer.answers()
        ]

    # --- offline decisions ------------------------------------------------------------------

    def claim_offline(self, event_id: str, decision: OfflineDecision) -> bool:
        """The edge decides this event itself: False when the center's decision is already
        here (the caller then does nothing). From now on the center's answer does not move the
        barrier if the edge opened it."""
        with self._lock:
            if event_id in self.decisions or event_id in self._offline:
                return False
            self._offline[event_id] = decision
            self.deciding_offline = True
        return True

    def record_offline(self, event_id: str, decision: OfflineDecision) -> bool:
        """Rewrite the buffered event with ``decided_offline`` and the decision, and send it
        again at once. False when it cannot (already answered: the center decided the
        original, logged)."""
        payload = self._buffer.payload_of(event_id)
        if payload is None:
            log.warning(
                "gate %s: event %s was answered before its offline decision was recorded",
                self.lane,
                event_id,
                extra={"event_id": event_id},
            )
            return False
        event = decode_event(payload)
        amended = encode_event(
            event.model_copy(update={"decided_offline": True, "offline": decision})
        )
        done = self._buffer.amend(event_id, amended)
        self._wake.set()
        return done

    def offline_pending(self) -> list[str]:
        """Events decided here that the center has not answered yet."""
        with self._lock:
            return list(self._offline)

    # --- sending ------------------------------------------------------------------------------

    def _send_step(self) -> None:
        """Publish the next event that is due, or wait a little; the supervisor repeats it."""
        self._wake.clear()
        if not self._link.connected.is_set():
            self._wake.wait(0.5)
            return
        row = self._buffer.next_to_send()
        if row is None:
            self._report()
            due = self._buffer.seconds_to_next_due()
            self._wake.wait(0.5 if due is None else min(0.5, max(due, 0.01)))
            return
        if len(row.payload) > MAX_EVENT_BYTES:  # only a buffer from before the one limit
            log.error(
                "gate %s will not send event %s: %d bytes is over the limit of %d",
                self.lane,
                row.event_id,
                len(row.payload),
                MAX_EVENT_BYTES,
            )
            self._buffer.defer(row.seq, self.cfg.resend_max_s)
            return
        self.sent_at.setdefault(row.event_id, time.perf_counter())
        outcome, why = self._link.publish_event(row.payload, self.cfg.puback_timeout_s)
        if outcome is Sent.ACKNOWLEDGED:
            self._buffer.sent(row.seq)
            if row.attempts:
                log.info(
                    "gate %s resent event %s (send %d, still no decision)",
                    self.lane,
                    row.event_id,
                    row.attempts + 1,
                    extra={"event_id": row.event_id},
                )
            self._report()
            if self.cfg.await_command_s > 0 and row.attempts == 0:
                self.wait_command(row.event_id, self.cfg.await_command_s)
        elif outcome is Sent.REFUSED:
            log.warning(
                "gate %s: the broker refused event %s (%s); trying again in %.0fs",
                self.lane,
                row.event_id,
                why,
                self.cfg.resend_after_s,
            )
            self._buffer.defer(row.seq, self.cfg.resend_after_s)
        else:  # not taken (the link dropped): the same row again after a pause, order kept
            self._stopping.wait(0.2)

    def _report(self) -> None:
        """Republish the status when the counts changed (at most every REPORT_GAP_S), and
        every ``status_interval_s`` while events wait for their decision (their age grows)."""
        backlog = self._buffer.backlog()
        with self._lock:  # deciding offline, or not any more, is news for the dashboard too
            offline = (self.deciding_offline, len(self._offline))
        key = (backlog.buffered, backlog.unanswered, *offline)
        since = time.monotonic() - self._reported_at
        changed = key != self._reported and since >= REPORT_GAP_S
        if changed or (backlog.unanswered and since >= self.cfg.status_interval_s):
            self._link.publish_status()
            self._reported, self._reported_at = key, time.monotonic()

    def _status(self, online: bool, at: datetime) -> bytes:
        """The status for the link (the will and "online" carry the connection's time)."""
        counts: dict[str, Any] = {}
        if online:
            b = self._buffer.backlog()
            oldest = None if b.oldest_unanswered_s is None else round(b.oldest_unanswered_s, 1)
            with self._lock:
                pending = len(self._offline)
            counts = {
                "buffered": b.buffered,
                "unanswered": b.unanswered,
                "oldest_unanswered_s": oldest,
                "deciding_offline": self.deciding_offline,
                "offline_pending": pending,
            }
        return encode_status(
            GateStatus(
                lot_id=self.cfg.lot_id, gate_id=self.cfg.gate_id, online=online, at=at, **counts
            )
        )

    def _on_connect(self) -> None:
        """A (re)connect: what the broker acknowledged before may be lost with it; resend now."""
        again = self._buffer.resend_unanswered_now()
        if again:
            log.info(
                "gate %s online: resending %d events still without a decision", self.lane, again
            )
        else:
            log.info("gate %s online (%d buffered)", self.lane, self.backlog())
        self._wake.set()

    # --- decisions ----------------------------------------------------------------------------

    def _on_command(self, payload: bytes) -> None:
        received = time.perf_counter()
        try:
            command = decode_command(payload)
        except ProtocolError as exc:
            log.warning("gate %s ignored a bad command: %s", self.lane, exc)
            return
        if (command.lot_id, command.gate_id) != (self.cfg.lot_id, self.cfg.gate_id):
            log.warning("gate %s ignored a command for another gate", self.lane)
            return
        event_id = command.event_id
        mine = self._buffer.find(event_id)
        if mine is None and event_id not in self._raw_sent:
            log.warning(
                "gate %s ignored a command for an event it did not send",
                self.lane,
                extra={"event_id": event_id},
            )
            return
        if (mine is not None and mine.answered) or event_id in self.decisions:
            return  # a repeat (redelivery, or the answer to a resent copy): already decided
        limit = self.cfg.max_command_age_s
        issued_s = (datetime.now(UTC) - command.issued_at).total_seconds()
        waited_s = time.time() - mine.buffered_at if mine is not None else 0.0
        fresh = issued_s <= limit and waited_s <= limit
        answer = {
            "open": command.open,
            "reason": command.reason,
            "display": command.display,
            "fare_vnd": command.fare_vnd,
            "actuated": fresh,
        }
        if mine is not None and not self._buffer.answered(event_id, answer):
            return  # another copy of the answer got there first
        decision = Decision(
            event_id, command.open, command.reason, command.display, command.fare_vnd, received,
            fresh, command.plate,
        )  # fmt: skip
        with self._lock:
            self.decisions[event_id] = decision
            waiter = self._waiters.pop(event_id, None)
            offline = self._offline.pop(event_id, None)
            if offline is None and fresh:
                self.deciding_offline = False  # the center answers in time again
        if self._on_answered is not None:
            try:
                self._on_answered(event_id)
            except Exception:
                log.exception("gate %s: recording the answer failed", self.lane)
        self._act(command, offline, fresh, (issued_s, waited_s, limit))
        if waiter is not None:
            waiter.set()
        self._wake.set()  # the counts changed: the sender reports them

    def _act(
        self,
        command: BarrierCommand,
        offline: OfflineDecision | None,
        fresh: bool,
        ages: tuple[float, float, float],
    ) -> None:
        """Move the barrier for a decision that just landed, if it may: fresh, and not for an
        event the edge already opened itself."""
        event_id = command.event_id
        if offline is not None and offline.open:
            # The edge opened already: the center's answer only ends the resending.
            log.info(
                "gate %s: the center answered an event the edge opened offline (%s, %s); "
                "the barrier is left as it is",
                self.lane,
                "open" if command.open else "closed",
                command.reason,
                extra={"event_id": event_id},
            )
        elif fresh:
            log.info(
                "gate %s barrier %s | %s",
                self.lane,
                "OPEN" if command.open else "CLOSED",
                command.display,
                extra={"event_id": event_id},
            )
            if self._actuate is not None:
                try:
                    self._actuate(command)
                except Exception:
                    log.exception("gate %s: the barrier failed to act", self.lane)
        else:
            log.warning(
                "gate %s: decision too late to move the barrier (issued %.0fs ago, event "
                "captured %.0fs ago, limit %.0fs); the event is answered",
                self.lane,
                *ages,
                extra={"event_id": event_id},
            )
