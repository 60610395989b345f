"""The gateway's MQTT consumer: gate event in, settled passage and barrier command out.

Threads and loops: paho's network thread only hands messages to the asyncio loop. Each lane
(lot, gate) has its own queue and task, so a lane's events are settled strictly in arrival order
while lanes run side by side. Plate reading runs in a process pool (``read_plate`` returns a
``concurrent.futures.Future``), settlement in a worker thread (SQLAlchemy is synchronous): the
loop itself never does CPU or database work.

Delivery: messages are acknowledged by hand (``manual_ack``) only after the decision is
committed, so a consumer killed mid-stream gets the unacknowledged events again from its
persistent session; settlement is idempotent by event id, so a redelivery or a gate that
publishes the same event three times is settled once. Acknowledgements leave in the order the
messages arrived (``gateway.mqtt.acks``; MQTT requires it), so a fast lane's acknowledgement
waits for a slower lane's earlier event while the work itself runs in parallel. Several
consumers share the load through a shared subscription (``$share/<group>/...``); within one
consumer a lane stays ordered, and the gate agent sends a lane's next event only after the
previous one was acknowledged.

Failures: an error a retry can cure (the database is down, a connection was lost) blocks its
lane, which retries the same event with capped exponential backoff until it is settled; the
lane never skips ahead, since settling a lane's later events first would price and debit them
out of order. While a lane is blocked the consumer reports it (``blocked_lanes``, the
``parking_lanes_blocked`` gauge) and ``/readyz`` says not ready. Only errors a retry cannot cure
(an invalid event, billing's ``DomainError`` such as an unknown gate) are acknowledged and
dropped, with a log line and a metric.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from gateway.backoff import Backoff
from gateway.logging import passage_context
from gateway.metrics import Metrics
from gateway.mqtt.acks import ArrivalOrderAcks, Ticket
from gateway.mqtt.client import (
    QOS,
    MqttConfig,
    connect,
    make_client,
    packet_limit,
    shared,
    stop,
)
from gateway.mqtt.subscriptions import SubscriptionMemory, events_alternates, stale_filters
from gateway.outbox_publisher import OutboxPublisher, command_from_payload, publish_command
from gateway.plate_reading import PlateReading, ReadPlateFn
from gateway.protocol import (
    MAX_EVENT_BYTES,
    GateEvent,
    OfflineDecision,
    ProtocolError,
    decode_event,
    decode_status,
    offline_event_id,
    parse_topic,
    topic_filter,
)

log = logging.getLogger(__name__)

# MQTT v5 DISCONNECT reason code: another connection with our client id took the session.
SESSION_TAKEN_OVER = 0x8E
SHORT_CONNECTION_S = 5.0
# The command for an event billing refused (see _publish_refusal): closed, ask the staff.
REFUSED_REASON = "refused"
REFUSED_DISPLAY = "Vui lòng chờ nhân viên hỗ trợ"
# What a barrier command repeats of a recorded decision.
ANSWER_FIELDS = ("open", "display", "reason", "plate", "fare_vnd", "balance_vnd")


@dataclass(frozen=True)
class Passage:
    """What the consumer hands to billing (same fields as billing.services.PassageInput)."""

    event_id: str
    lot_id: str
    gate_id: str
    direction: str
    captured_at: datetime
    plate_text: str | None
    plate_confidence: float
    needs_review: bool
    image_ref: str | None
    # the reader's evidence (gateway.plate_reading.LprEvidence): billing matches the plate
    # against the cars in the lot with it
    evidence: Any = field(default=None, compare=False, repr=False)
    # The edge decided it alone (``decided_offline``): billing honours an open barrier.
    offline: OfflineDecision | None = None


class AllowlistPublishing(Protocol):
    def publish_due(self, *, changed: bool = False) -> int: ...


STOP_GRACE_S = 10.0  # how long a stopping consumer waits for its cancelled tasks
HEALTH_CHECK_S = 5.0  # how often the gates' unanswered events are checked against the alert


async def _wait_at_most(event: asyncio.Event, seconds: float) -> None:
    """Until ``event`` is set or ``seconds`` have passed.

    Not ``asyncio.wait_for``: on Python 3.11 it can swallow a cancellation that arrives as the
    event is set (the task then runs on), which left a stopping consumer waiting for ever.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


class Decision(Protocol):
    """What the consumer reads of billing's GateDecision (read-only: it is frozen)."""

    @property
    def open(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def display(self) -> str: ...
    @property
    def plate(self) -> str | None: ...
    @property
    def fare_vnd(self) -> int | None: ...
    @property
    def balance_vnd(self) -> int | None: ...
    @property
    def review(self) -> bool: ...
    @property
    def replayed(self) -> bool:
        """Billing had settled this event before: the consumer answers the gate again."""


SettleFn = Callable[[Passage], Decision]
ImageStoreFn = Callable[[GateEvent], str | None]
# Keeps where the reader found the plate (frame index, x, y, w, h) beside the stored frames.
BoxStoreFn = Callable[[str, tuple[int, int, int, int, int]], None]


@dataclass(frozen=True)
class _Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received: float
    ticket: Ticket | None = None  # its place in the acknowledgement order (set on the loop)


class Consumer:
    def __init__(
        self,
        mqtt_config: MqttConfig,
        *,
        settle: SettleFn,
        read_plate: ReadPlateFn | None,
        publisher_factory: Callable[[mqtt.Client], OutboxPublisher] | None = None,
        metrics: Metrics | None = None,
        share_group: str | None = "gateway",
        lot_filter: str = "+",
        max_event_bytes: int = MAX_EVENT_BYTES,
        image_store: ImageStoreFn | None = None,
        box_store: BoxStoreFn | None = None,
        sweep_interval_s: float = 1.0,
        retry: Backoff = Backoff(0.2, 5.0),
        connect_retry: Backoff = Backoff(0.5, 4.0),
        permanent_errors: tuple[type[BaseException], ...] = (),
        record_status: Callable[[str, str, bool, datetime], None] | None = None,
        progressive_reading: bool = True,
        first_frame_accept: float = 0.95,
        command_expiry_s: int | None = 30,
        subscriptions_file: Path | None = None,
        allowlist_factory: Callable[[mqtt.Client], AllowlistPublishing] | None = None,
        allowlist_check_s: float = 5.0,
    ) -> None:
        # The lots' signed allow-lists (gateway.allowlist): checked after money moved, and
        # every allowlist_check_s for their periodic refresh.
        self._allowlist_factory = allowlist_factory
        self._allowlist_check_s = allowlist_check_s
        self._money_moved: asyncio.Event | None = None
        self.cfg = mqtt_config
        self._settle = settle
        self._publisher_factory = publisher_factory
        self.metrics = metrics or Metrics()
        self._share_group = share_group
        self._lot_filter = lot_filter
        self._max_event_bytes = max_event_bytes
        self._image_store = image_store
        self._box_store = box_store
        self._sweep_interval = sweep_interval_s
        self._retry = retry
        self._connect_retry = connect_retry
        # Errors a retry cannot cure (an unknown gate): logged, counted, acknowledged.
        self._permanent = permanent_errors
        # Where gate health is kept (billing's gate table, for the operator dashboard).
        self._record_status = record_status
        self._reading = PlateReading(
            read_plate,
            self.metrics,
            progressive=progressive_reading,
            first_frame_accept=first_frame_accept,
        )
        self._command_expiry_s = command_expiry_s
        # What this client id subscribed last time (unsubscribed on connect when not wanted).
        self._subscriptions = SubscriptionMemory(subscriptions_file)
        self._lanes: dict[tuple[str, str], asyncio.Queue[_Inbound]] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        # Recent decisions by (lot, gate, event id): a gate repeating its own event gets its own
        # answer again; another lane reusing the id goes to billing, which refuses it.
        self._recent: OrderedDict[tuple[str, str, str], Decision] = OrderedDict()
        self._gates_online: dict[str, set[str]] = {}  # lot -> its gates whose status is online
        # Copies of events the edge decided offline, by (lot, gate, event id), seen on arrival:
        # the original (sent before the edge decided) may still be queued ahead of its copy.
        self._offline_copies: OrderedDict[tuple[str, str, str], _Inbound] = OrderedDict()
        # The (online, at) last handed to record_status per gate: a status republished only
        # because its counts changed is not written to the database again.
        self._status_recorded: dict[tuple[str, str], tuple[bool, datetime]] = {}
        self._statuses: asyncio.Queue[tuple[Any, _Inbound]] | None = None
        self._connected_at: float | None = None
        self._short_connections = 0  # connections in a row that dropped right after connecting
        # Lanes whose current event failed with a transient error: "lot/gate" -> attempts so far.
        self._blocked: dict[str, int] = {}
        self._kick: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.client: mqtt.Client | None = None
        self._acks = ArrivalOrderAcks(self._send_ack)
        self.ready = False
        self.settled = 0

    # --- paho thread -------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            return
        if self._loop is not None:  # before any message of this connection is dispatched
            self._loop.call_soon_threadsafe(self._acks.new_connection)
        events = shared(self._share_group, topic_filter("events", self._lot_filter))
        wanted = [events, topic_filter("status", self._lot_filter)]
        stale = stale_filters(
            wanted,
            self._subscriptions.load(),
            events_alternates(self._lot_filter, self._share_group),
        )
        if stale:  # a resumed session keeps what an earlier configuration subscribed
            client.unsubscribe(stale)
        client.subscribe([(f, QOS) for f in wanted])
        self._subscriptions.save(wanted)
        self.metrics.mqtt_connected.set(1)
        self._connected_at = time.monotonic()
        log.info("consumer connected, subscribed to %s", events)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.metrics.mqtt_connected.set(0)
        lasted = time.monotonic() - self._connected_at if self._connected_at else None
        self._connected_at = None
        if getattr(reason, "value", None) == SESSION_TAKEN_OVER:
            log.warning(
                "the broker disconnected us: another client connected with our client id %r "
                "(session taken over). Two gateways with one id take the session from each "
                "other in a loop: give each instance its own PARKING_MQTT_CLIENT_ID",
                self.cfg.client_id,
            )
            return
        # Mosquitto 2.0 closes a taken-over connection without saying why: what shows is a
        # connection that keeps dropping right after it was made.
        self._short_connections = (
            self._short_connections + 1 if lasted is not None and lasted < SHORT_CONNECTION_S else 0
        )
        if self._short_connections >= 3 and self._short_connections % 3 == 0:
            log.warning(
                "connection to the broker lost %d times in a row within %.0fs of connecting: "
                "another client may be using our client id %r (session taken over); give each "
                "gateway instance its own PARKING_MQTT_CLIENT_ID",
                self._short_connections,
                SHORT_CONNECTION_S,
                self.cfg.client_id,
            )
        elif self.ready:
            log.warning("consumer disconnected (%s); paho reconnects with backoff", reason)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        item = _Inbound(msg.topic, bytes(msg.payload), msg.mid, msg.qos, time.perf_counter())
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._dispatch, item)

    def _send_ack(self, mid: int, qos: int) -> None:
        if self.client is not None:
            self.client.ack(mid, qos)

    def _ack(self, item: _Inbound) -> None:
        """Done with a message: acknowledged once every message that arrived before it is."""
        if item.ticket is not None:
            self._acks.done(item.ticket)

    # --- loop ----------------------------------------------------------------------------------

    def _dispatch(self, item: _Inbound) -> None:
        # Called in arrival order (call_soon_threadsafe from paho's one network thread).
        item = replace(item, ticket=self._acks.arrived(item.mid, item.qos))
        try:
            lot, gate, kind = parse_topic(item.topic)
        except ProtocolError as exc:
            log.warning("ignored message: %s", exc)
            self._ack(item)
            return
        if kind == "status":
            self._on_status(lot, gate, item)
            return
        if kind != "events":
            self._ack(item)
            return
        offline_id = offline_event_id(item.payload)
        if offline_id is not None:
            self._offline_copies[(lot, gate, offline_id)] = item
            while len(self._offline_copies) > 10_000:
                self._offline_copies.popitem(last=False)
        queue = self._lanes.get((lot, gate))
        if queue is None:
            queue = asyncio.Queue()
            self._lanes[(lot, gate)] = queue
            task = asyncio.get_running_loop().create_task(self._lane(lot, gate, queue))
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_tasks.discard)
        queue.put_nowait(item)

    def _on_status(self, lot: str, gate: str, item: _Inbound) -> None:
        try:
            status = decode_status(item.payload) if item.payload else None
            if status is not None and (status.lot_id, status.gate_id) != (lot, gate):
                raise ProtocolError("topic_mismatch", "status names another gate than its topic")
        except ProtocolError as exc:
            log.warning("bad status from %s/%s: %s", lot, gate, exc)
            status = None
        online = self._gates_online.setdefault(lot, set())
        if status is not None and status.online:
            online.add(gate)
        else:
            online.discard(gate)
        self.metrics.gates_online.labels(lot=lot).set(len(online))
        if status is not None:
            self.metrics.gate_health.record(status)
        if status is None or self._record_status is None:
            self._ack(item)
            return
        if self._statuses is None:
            self._statuses = asyncio.Queue()
            task = asyncio.get_running_loop().create_task(self._status_worker(self._statuses))
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_tasks.discard)
        self._statuses.put_nowait((status, item))

    async def _status_worker(self, queue: asyncio.Queue[tuple[Any, _Inbound]]) -> None:
        """Gate statuses stored one at a time, in arrival order.

        A gate's "online" and the last will that follows it carry the same time (the agent
        stamps both when it connects), and billing lets an equal time win: stored out of order,
        a crashed gate would stay "online".
        """
        while True:
            status, item = await queue.get()
            key, seen = (status.lot_id, status.gate_id), (status.online, status.at)
            # A status republished only because its counts changed is not written again.
            if self._status_recorded.get(key) != seen and await self._store_status(status):
                self._status_recorded[key] = seen
            self._ack(item)

    async def _store_status(self, status: Any) -> bool:
        assert self._record_status is not None
        try:
            await asyncio.to_thread(
                self._record_status, status.lot_id, status.gate_id, status.online, status.at
            )
            return True
        except Exception as exc:  # an unknown gate's status is worth a line, not a crash
            log.warning("gate status of %s/%s not recorded: %s", status.lot_id, status.gate_id, exc)
            return False

    @property
    def blocked_lanes(self) -> list[str]:
        """Lanes ("lot/gate") retrying an event that failed with a transient error."""
        return sorted(self._blocked)

    async def _lane(self, lot: str, gate: str, queue: asyncio.Queue[_Inbound]) -> None:
        lane = f"{lot}/{gate}"
        while True:
            item = await queue.get()
            event = self._decode(lot, gate, item)
            if event is not None:
                event = self._with_offline_decision(event)
                # Every line about this passage carries its id, its failures' lines included.
                with passage_context(event.event_id, lane):
                    await self._until_handled(lane, event, item)
            self._ack(item)

    def _with_offline_decision(self, event: GateEvent) -> GateEvent:
        """The copy of ``event`` carrying the edge's offline decision, when one arrived behind
        it: the gateway was down, the original waited in the broker, and meanwhile the edge
        opened (or kept closed) on its own. Billing must settle what the barrier did."""
        key = (event.lot_id, event.gate_id, event.event_id)
        later = self._offline_copies.pop(key, None)
        if event.offline is not None or later is None:
            return event
        try:
            copy = decode_event(later.payload, self._max_event_bytes)
        except ProtocolError:
            return event
        if copy.event_id != event.event_id or copy.offline is None:
            return event
        log.info("the edge decided this event offline meanwhile: settling it as decided there")
        return copy

    async def _until_handled(self, lane: str, event: GateEvent, item: _Inbound) -> None:
        """Handle the event, retrying after a pause until it is done: the lane never skips it.

        A failing settlement (the common case: the database) is retried further in, by
        ``_settle_with_retry``, without reading the plate or storing the frames again; this loop
        catches whatever else fails (the image store, answering the gate) and starts over.
        """
        delays = self._retry.delays()
        while True:
            try:
                await self._settle_event(event, item)
                break
            except asyncio.CancelledError:
                raise
            except Exception:  # not cured by skipping: the same event again, after a pause
                delay = next(delays)
                self._lane_failed(lane)
                log.exception("event on %s failed; retrying in %.2fs", lane, delay)
                await asyncio.sleep(delay)
        self._lane_recovered(lane)

    def _lane_failed(self, lane: str) -> int:
        self._blocked[lane] = self._blocked.get(lane, 0) + 1
        self.metrics.lanes_blocked.set(len(self._blocked))
        return self._blocked[lane]

    def _lane_recovered(self, lane: str) -> None:
        attempts = self._blocked.pop(lane, 0)
        if attempts:
            self.metrics.lanes_blocked.set(len(self._blocked))
            log.info("lane %s unblocked after %d failed attempts", lane, attempts)

    def _decode(self, lot: str, gate: str, item: _Inbound) -> GateEvent | None:
        """The event, or None (logged and counted) when it is invalid: no retry can cure that."""
        try:
            event = decode_event(item.payload, self._max_event_bytes)
            if (event.lot_id, event.gate_id) != (lot, gate):
                raise ProtocolError("topic_mismatch", "event names another lane than its topic")
        except ProtocolError as exc:
            self.metrics.rejected.labels(code=exc.code).inc()
            log.warning("rejected event on %s/%s (%d bytes): %s", lot, gate, len(item.payload), exc)
            return None
        return event

    async def _settle_event(self, event: GateEvent, item: _Inbound) -> None:
        key = (event.lot_id, event.gate_id, event.event_id)
        # A copy carrying the edge's offline decision goes to billing even when this event
        # was settled here already: billing records the edge's decision next to its own.
        if key in self._recent and event.offline is None:
            self.metrics.duplicates.inc()
            log.info("duplicate event; answering with the recorded decision")
            decision = self._recent[key]
            await asyncio.to_thread(self._republish, event, decision)
            return
        reading = await self._reading.reading(event)
        image_ref = None
        if self._image_store is not None:
            try:
                image_ref = await asyncio.to_thread(self._image_store, event)
                if image_ref and reading.box and self._box_store is not None:
                    await asyncio.to_thread(self._box_store, image_ref, reading.box)
            except OSError as exc:  # a full disk costs the review image, not the passage
                log.warning("frames not kept: %s", exc)
        passage = Passage(
            event_id=event.event_id,
            lot_id=event.lot_id,
            gate_id=event.gate_id,
            direction=event.direction,
            captured_at=event.captured_at,
            plate_text=reading.text,
            plate_confidence=reading.confidence,
            needs_review=reading.needs_review,
            image_ref=image_ref,
            evidence=reading.evidence,
            offline=event.offline,
        )
        if event.offline is not None:
            log.info(
                "event decided offline by the edge (%s, %s): settling it",
                "open" if event.offline.open else "closed",
                event.offline.reason,
            )
        try:
            decision = await self._settle_with_retry(passage)
        except self._permanent as exc:
            # A retry cannot cure it (unknown gate, an event id reused for another passage):
            # acknowledged and dropped, and the gate is told so rather than left waiting.
            self.metrics.rejected.labels(code=type(exc).__name__).inc()
            log.error("event refused by billing (%s): %s", type(exc).__name__, exc)
            await asyncio.to_thread(self._publish_refusal, event)
            return
        self._remember(key, decision)
        if decision.replayed:
            # Settled before (a copy after a restart, or from another gateway of the group):
            # billing wrote no new barrier command, and the gate that sent it again is waiting.
            self.metrics.duplicates.inc()
            log.info("event settled before; answering with the recorded decision")
            await asyncio.to_thread(self._republish, event, decision)
            return
        self.metrics.decision_seconds.observe(time.perf_counter() - item.received)
        self.metrics.passages.labels(direction=event.direction).inc()
        self.metrics.decisions.labels(
            outcome="open" if decision.open else "closed", reason=decision.reason
        ).inc()
        if decision.review:
            self.metrics.reviews.inc()
        self.settled += 1
        log.info(
            "settled %s plate=%s open=%s reason=%s fare=%s",
            event.direction,
            decision.plate,
            decision.open,
            decision.reason,
            decision.fare_vnd,
        )
        if self._kick is not None:
            self._kick.set()

    async def _read(self, event: GateEvent) -> tuple[str | None, float, bool]:
        return await self._reading.read(event)

    async def _settle_with_retry(self, passage: Passage) -> Decision:
        """Settle, retrying a transient failure until it succeeds (the lane waits meanwhile).

        Billing's permanent errors are raised at once; anything else (database down, lost
        connection, lock timeout) is retried with capped exponential backoff for as long as it
        takes: giving up would leave the event unacknowledged and the lane out of order.
        """
        lane = f"{passage.lot_id}/{passage.gate_id}"
        delays = self._retry.delays()
        while True:
            try:
                return await asyncio.to_thread(self._settle, passage)
            except self._permanent:
                raise
            except Exception as exc:
                self.metrics.failures.inc()
                attempt = self._lane_failed(lane)
                delay = next(delays)
                log.warning(
                    "settle attempt %d failed (%s: %s); lane %s blocked, retrying in %.2fs",
                    attempt,
                    type(exc).__name__,
                    exc,
                    lane,
                    delay,
                )
                await asyncio.sleep(delay)

    def _remember(self, key: tuple[str, str, str], decision: Decision) -> None:
        self._recent[key] = decision
        while len(self._recent) > 10_000:
            self._recent.popitem(last=False)

    def _republish(self, event: GateEvent, decision: Decision) -> None:
        self._answer(event, {field: getattr(decision, field) for field in ANSWER_FIELDS})

    def _publish_refusal(self, event: GateEvent) -> None:
        """Barrier stays closed and the display sends the driver to staff; nothing was recorded."""
        self._answer(event, {"open": False, "display": REFUSED_DISPLAY, "reason": REFUSED_REASON})

    def _answer(self, event: GateEvent, decision: dict[str, Any]) -> None:
        """A barrier command straight to the gate (no outbox row: nothing new was committed)."""
        if self.client is None:
            return
        payload = {"event_id": event.event_id, "lot_id": event.lot_id, "gate_id": event.gate_id}
        command = command_from_payload({**payload, **decision})
        publish_command(self.client, command, self._command_expiry_s)

    async def _publish_loop(self, publisher: OutboxPublisher) -> None:
        assert self._kick is not None
        while True:
            await _wait_at_most(self._kick, self._sweep_interval)
            self._kick.clear()
            try:
                moved = 0
                while (n := await asyncio.to_thread(publisher.publish_pending)) > 0:
                    moved += n
                if moved and self._money_moved is not None:
                    self._money_moved.set()
            except Exception:
                log.exception("outbox sweep failed; retrying")

    async def _allowlist_loop(self, publisher: AllowlistPublishing) -> None:
        """Each lot's allow-list republished when money moved (its content may have changed)
        or when it is due for its periodic refresh."""
        assert self._money_moved is not None
        while True:
            await _wait_at_most(self._money_moved, self._allowlist_check_s)
            changed = self._money_moved.is_set()
            self._money_moved.clear()
            try:
                await asyncio.to_thread(publisher.publish_due, changed=changed)
            except Exception:
                log.exception("allow-list publishing failed; retrying")

    async def _health_loop(self) -> None:
        """The unanswered-events alert between status reports (an event's wait grows)."""
        while True:
            await asyncio.sleep(HEALTH_CHECK_S)
            try:
                self.metrics.gate_health.check()
            except Exception:
                log.exception("gate health check failed")

    # --- lifecycle -------------------------------------------------------------------------

    async def _first_connect(
        self, client: mqtt.Client, cfg: MqttConfig, stop_event: asyncio.Event
    ) -> bool:
        """Connect, retrying with capped backoff until it works; False if stopped first.

        A gateway may start before its broker (a host booting, a broker being upgraded): it
        waits for it, saying so, instead of exiting. Once connected, paho reconnects by itself.
        """
        delays = self._connect_retry.delays()
        attempt = 0
        while not stop_event.is_set():
            attempt += 1
            try:
                await asyncio.to_thread(connect, client, cfg)
                if attempt > 1:
                    log.info("connected to the broker after %d attempts", attempt)
                return True
            except (ConnectionError, OSError) as exc:
                delay = next(delays)
                log.warning(
                    "broker %s:%d not reachable (attempt %d: %s); retrying in %.1fs",
                    cfg.host,
                    cfg.port,
                    attempt,
                    exc,
                    delay,
                )
            await _wait_at_most(stop_event, delay)
        log.info("consumer stopped before it could connect")
        return False

    async def run(self, stop_event: asyncio.Event) -> None:
        """Consume until ``stop_event`` is set; then disconnect, keeping the session."""
        self._loop = asyncio.get_running_loop()
        self._kick = asyncio.Event()
        cfg = self.cfg
        if cfg.max_packet_bytes is None:  # the broker drops bigger events, never sends them
            cfg = replace(cfg, max_packet_bytes=packet_limit(self._max_event_bytes))
        client = make_client(cfg, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client
        background: list[asyncio.Task[None]] = []
        if not await self._first_connect(client, cfg, stop_event):
            return
        try:
            if self._publisher_factory is not None:
                publisher = self._publisher_factory(client)
                background.append(asyncio.create_task(self._publish_loop(publisher)))
            background.append(asyncio.create_task(self._health_loop()))
            if self._allowlist_factory is not None:
                self._money_moved = asyncio.Event()
                allowlists = self._allowlist_factory(client)
                background.append(asyncio.create_task(self._allowlist_loop(allowlists)))
            self.ready = True
            await stop_event.wait()
        finally:
            self.ready = False
            tasks = [*background, *self._lane_tasks]
            for task in tasks:
                task.cancel()
            if tasks:
                done, stuck = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        log.error("consumer task ended with %r", task.exception())
                if stuck:  # never hang a shutdown on a task that would not end
                    log.error("%d consumer tasks did not stop in time: %s", len(stuck), stuck)
            self._lanes.clear()  # their tasks are gone; a later run starts new ones
            self._statuses = None
            await asyncio.to_thread(stop, client)
            self.metrics.mqtt_connected.set(0)
            log.info("consumer stopped after %d settled events", self.settled)
