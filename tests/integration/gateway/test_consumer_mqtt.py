"""The consumer on the real Mosquitto with an in-memory billing: delivery, order, duplicates."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from billing.domain import DomainError, IdempotencyConflict
from edge.lane import Lane, LaneConfig
from gateway.backoff import Backoff
from gateway.consumer import Consumer, Passage
from gateway.logging import ContextFilter
from gateway.mqtt.client import MqttConfig
from gateway.outbox_publisher import OutboxPublisher
from simulator.cameras import TinyCamera

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class FakeDecision:
    open: bool
    reason: str
    display: str
    plate: str | None
    fare_vnd: int | None
    balance_vnd: int | None
    review: bool
    replayed: bool = False


@dataclass
class Row:
    id: int
    payload: dict[str, Any]
    processed: bool = False


@dataclass
class FakeBilling:
    """settle_passage's contract in memory: idempotent by event id, writes a barrier row."""

    delay_s: float = 0.0
    # event id -> how many more settle calls fail with a transient error (database down).
    failing: dict[str, int] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    slow: dict[str, float] = field(default_factory=dict)  # event id -> seconds to settle it
    decisions: dict[str, FakeDecision] = field(default_factory=dict)
    facts: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    order: list[tuple[str, str]] = field(default_factory=list)
    outbox: list[Row] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settle(self, p: Passage) -> FakeDecision:
        with self.lock:
            self.attempts[p.event_id] = self.attempts.get(p.event_id, 0) + 1
        delay = self.slow.get(p.event_id, self.delay_s)
        if delay:
            time.sleep(delay)
        with self.lock:
            if self.failing.get(p.event_id, 0) > 0:
                self.failing[p.event_id] -= 1
                raise ConnectionError("database unreachable")
            if p.event_id in self.decisions:
                if self.facts[p.event_id] != (p.lot_id, p.gate_id, p.direction):
                    raise IdempotencyConflict(f"event id {p.event_id} reused for another passage")
                return replace(self.decisions[p.event_id], replayed=True)
            self.facts[p.event_id] = (p.lot_id, p.gate_id, p.direction)
            d = FakeDecision(True, "ok", f"{p.plate_text} OK", p.plate_text, 0, 100, False)
            self.decisions[p.event_id] = d
            self.order.append((p.gate_id, p.event_id))
            self.outbox.append(
                Row(
                    len(self.outbox) + 1,
                    {
                        "event_id": p.event_id,
                        "lot_id": p.lot_id,
                        "gate_id": p.gate_id,
                        "open": d.open,
                        "display": d.display,
                        "reason": d.reason,
                        "plate": d.plate,
                        "fare_vnd": 0,
                        "balance_vnd": 100,
                    },
                )
            )
            return d

    def claim(self, _s: Session, kind: str, limit: int) -> Sequence[Row]:
        with self.lock:
            return [r for r in self.outbox if not r.processed][:limit]

    def mark(self, _s: Session, row_id: int) -> None:
        with self.lock:
            self.outbox[row_id - 1].processed = True


@dataclass
class Running:
    consumer: Consumer
    billing: FakeBilling
    task: asyncio.Task[None]
    stop: asyncio.Event


def make_consumer(
    host: str, port: int, billing: FakeBilling, lot: str, client_id: str, **kw: Any
) -> Consumer:
    sessions = sessionmaker(bind=create_engine("sqlite://"))
    kw.setdefault("retry", Backoff(0.02, 0.1))
    kw.setdefault("read_plate", None)
    return Consumer(
        MqttConfig(host=host, port=port, client_id=client_id),
        settle=billing.settle,
        publisher_factory=lambda c: OutboxPublisher(
            sessions, c, claim=billing.claim, mark_processed=billing.mark
        ),
        share_group=None,
        lot_filter=lot,
        permanent_errors=(DomainError,),
        **kw,
    )


async def start(consumer: Consumer, billing: FakeBilling) -> Running:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    for _ in range(100):
        if consumer.ready:
            break
        await asyncio.sleep(0.05)
    assert consumer.ready
    return Running(consumer, billing, task, stop)


def agent(mosquitto: tuple[str, int], lot: str, gate: str, tmp: Path, **kw: Any) -> Lane:
    host, port = mosquitto
    a = Lane(
        LaneConfig(lot, gate, "entry", tmp / f"{gate}.sqlite", host=host, port=port, **kw),
        TinyCamera(),
    )
    a.start()
    assert a.connected
    return a


async def wait_for(cond: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_event_gets_an_open_command(
    running: Running, mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    gate = agent(mosquitto, lot, "in-1", tmp_path)
    try:
        event = gate.capture("30A-123.45", camera_text=True, plate_confidence=0.95)
        cmd = await asyncio.to_thread(gate.wait_command, event.event_id, 10)
        assert cmd is not None and cmd.open and "30A-123.45" in cmd.display
        assert gate.backlog() == 0
        await wait_for(lambda: all(r.processed for r in running.billing.outbox))
    finally:
        gate.stop()


async def test_same_event_three_times_is_settled_once(
    running: Running, mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    gate = agent(mosquitto, lot, "in-2", tmp_path)
    try:
        event = gate.capture("29A-111.11", camera_text=True)
        from gateway.protocol import encode_event

        for _ in range(2):
            await asyncio.to_thread(gate.publish_raw, encode_event(event), event.event_id)
        assert await asyncio.to_thread(gate.wait_command, event.event_id, 10)
        await wait_for(lambda: running.consumer.metrics.duplicates._value.get() >= 2)
        assert list(running.billing.decisions) == [event.event_id]
        assert len(running.billing.outbox) == 1
    finally:
        gate.stop()


async def test_malformed_and_foreign_events_are_refused_not_fatal(
    running: Running, mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    gate = agent(mosquitto, lot, "in-3", tmp_path)
    other = agent(mosquitto, lot, "in-4", tmp_path)
    try:
        await asyncio.to_thread(gate.publish_raw, b"garbage, not a gate event", "x")
        # An event that claims another lane than its topic.
        spoof = other.capture("30A-999.99", camera_text=True, event_id=uuid.uuid4().hex)
        from gateway.protocol import encode_event

        await asyncio.to_thread(gate.publish_raw, encode_event(spoof), spoof.event_id)
        good = gate.capture("30A-222.22", camera_text=True)
        assert await asyncio.to_thread(gate.wait_command, good.event_id, 10)
        rejected = running.consumer.metrics.rejected
        assert rejected.labels(code="bad_magic")._value.get() == 1
        assert rejected.labels(code="topic_mismatch")._value.get() == 1
    finally:
        gate.stop()
        other.stop()


async def test_offline_gate_replays_its_buffer_in_order(
    running: Running, mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    gate = agent(mosquitto, lot, "in-5", tmp_path)
    try:
        gate.go_offline()
        events = [gate.capture(f"30A-{i:03d}.00", camera_text=True) for i in range(100, 112)]
        await asyncio.sleep(0.5)
        assert gate.backlog() == 12 and not running.billing.decisions
        await asyncio.to_thread(gate.go_online)
        await wait_for(lambda: all(e.event_id in gate.decisions for e in events), 15)
        settled = [eid for g, eid in running.billing.order if g == "in-5"]
        assert settled == [e.event_id for e in events]
        assert gate.backlog() == 0
    finally:
        gate.stop()


async def test_consumer_restart_loses_nothing(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    billing = FakeBilling()
    first = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
    gate = agent(mosquitto, lot, "in-6", tmp_path)
    try:
        warm = gate.capture("30A-000.01", camera_text=True)
        assert await asyncio.to_thread(gate.wait_command, warm.event_id, 10)
        first.stop.set()
        await first.task
        # Published while no consumer runs: the persistent session keeps them.
        events = [gate.capture(f"30A-{i:03d}.11", camera_text=True) for i in range(200, 210)]
        await wait_for(lambda: gate.backlog() == 0)
        assert len(billing.decisions) == 1
        second = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
        try:
            await wait_for(lambda: all(e.event_id in gate.decisions for e in events), 15)
            assert [eid for _, eid in billing.order] == [warm.event_id] + [
                e.event_id for e in events
            ]
        finally:
            second.stop.set()
            await second.task
    finally:
        gate.stop()


async def test_consumer_stopped_mid_stream_settles_the_rest_after_restart(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    billing = FakeBilling(delay_s=0.15)
    first = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
    gate = agent(mosquitto, lot, "in-7", tmp_path)
    try:
        events = [gate.capture(f"30A-{i:03d}.22", camera_text=True) for i in range(300, 312)]
        await wait_for(lambda: len(billing.decisions) >= 3)
        first.stop.set()  # in the middle: some settled, some in flight, some not yet delivered
        await first.task
        assert len(billing.decisions) < len(events)
        second = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
        try:
            await wait_for(lambda: all(e.event_id in gate.decisions for e in events), 20)
            assert [eid for _, eid in billing.order] == [e.event_id for e in events]
        finally:
            second.stop.set()
            await second.task
    finally:
        gate.stop()


async def test_two_consumers_share_the_load_and_keep_each_lane_in_order(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    """$share/<group>: each event to one consumer; the agent's stop-and-wait keeps lane order."""
    billing = FakeBilling(delay_s=0.02)
    group = f"g{lot}"
    consumers = []
    for n in range(2):
        c = make_consumer(*mosquitto, billing, lot, f"gw-{lot}-{n}")
        c._share_group = group
        consumers.append(await start(c, billing))
    gates = [agent(mosquitto, lot, f"lane-{i}", tmp_path, await_command_s=5.0) for i in range(3)]
    try:
        events = {
            g.cfg.gate_id: [g.capture(f"30A-{i:03d}.{n}0", camera_text=True) for n in range(6)]
            for i, g in enumerate(gates)
        }
        await wait_for(
            lambda: all(e.event_id in g.decisions for g in gates for e in events[g.cfg.gate_id]),
            30,
        )
        assert len(billing.decisions) == 18  # each event settled once in all
        assert all(r.consumer.settled > 0 for r in consumers)  # both did work
        assert sum(r.consumer.settled for r in consumers) == 18
        for gate_id, evs in events.items():
            lane = [eid for g, eid in billing.order if g == gate_id]
            assert lane == [e.event_id for e in evs]
    finally:
        for g in gates:
            g.stop()
        for r in consumers:
            r.stop.set()
            await r.task


async def test_gate_agent_restart_sends_what_its_buffer_kept(
    running: Running, mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    host, port = mosquitto
    cfg = LaneConfig(lot, "in-8", "entry", tmp_path / "in-8.sqlite", host=host, port=port)
    first = Lane(cfg, TinyCamera())
    first.start()
    first.go_offline()
    kept = [first.capture(f"30A-{i:03d}.88", camera_text=True) for i in range(400, 404)]
    first.stop()  # the edge computer reboots with the events still unsent
    assert running.billing.decisions == {}
    second = Lane(cfg, TinyCamera())
    second.start()
    try:
        assert second.backlog() in range(0, 5)
        await wait_for(lambda: second.backlog() == 0, 15)
        await wait_for(lambda: len(running.billing.order) == 4, 15)
        assert [eid for _, eid in running.billing.order] == [e.event_id for e in kept]
    finally:
        second.stop()


async def test_oversized_event_is_never_delivered_and_the_lane_goes_on(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    """v5 Maximum Packet Size: the broker drops the big event, paho never reads it."""
    billing = FakeBilling()
    consumer = make_consumer(*mosquitto, billing, lot, f"gw-{lot}")
    consumer._max_event_bytes = 4096
    running = await start(consumer, billing)
    lines = paho_log(consumer)
    gate = agent(mosquitto, lot, "in-9", tmp_path)
    try:
        big = gate.capture("30A-777.77", camera_text=True, frames=[b"\xff\xd8\xff" + b"x" * 20_000])
        small = gate.capture("30A-777.78", camera_text=True)
        assert await asyncio.to_thread(gate.wait_command, small.event_id, 10)
        assert big.event_id not in billing.attempts and big.event_id not in gate.decisions
        sizes = [size for _, size in received(lines)]
        assert sizes and max(sizes) < 4096  # the big one never crossed the consumer's socket
        assert consumer.metrics.rejected.labels(code="too_large")._value.get() == 0
    finally:
        gate.stop()
        running.stop.set()
        await running.task


def readyz(consumer: Consumer) -> tuple[int, dict[str, Any]]:
    """/readyz of an app whose container runs this consumer (database: in-memory SQLite)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from gateway.metrics import Metrics
    from gateway.ops import router

    app = FastAPI()
    app.state.session_factory = sessionmaker(bind=create_engine("sqlite://"))
    app.state.container = SimpleNamespace(metrics=Metrics(), consumer=consumer)
    app.include_router(router)
    answer = TestClient(app).get("/readyz")
    return answer.status_code, answer.json()["checks"]


async def test_failing_settlement_blocks_the_lane_and_retries_in_order(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    """The database fails an event until it comes back: the lane waits for it, retrying, then
    settles the rest. The outage lasts until the test ends it, not a number of retries, so a
    slow machine cannot end it before the lane was seen blocked."""
    billing = FakeBilling()
    running = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
    gate = agent(mosquitto, lot, "in-10", tmp_path)
    ids = [f"evt-block-{lot}-{i}" for i in range(4)]
    billing.failing[ids[1]] = 10**9  # down until the test brings it back
    try:
        events = [
            gate.capture(f"30A-{i:03d}.10", camera_text=True, event_id=eid)
            for i, eid in enumerate(ids)
        ]
        await wait_for(lambda: running.consumer.blocked_lanes == [f"{lot}/in-10"])
        status, checks = await asyncio.to_thread(readyz, running.consumer)
        assert status == 503 and checks["lanes"] == f"blocked: {lot}/in-10"
        await wait_for(lambda: billing.attempts.get(ids[1], 0) >= 8)  # retried, not dropped
        with billing.lock:
            billing.failing[ids[1]] = 0  # the database is back
        await wait_for(lambda: all(e.event_id in gate.decisions for e in events), 15)
        assert [eid for _, eid in billing.order] == ids  # nothing skipped, nothing reordered
        tries = billing.attempts[ids[1]]
        assert tries >= 9
        assert billing.attempts[ids[2]] == 1  # not even tried while the lane was blocked
        assert running.consumer.blocked_lanes == []
        # every try but the last failed, and each failure was counted
        assert running.consumer.metrics.failures._value.get() == tries - 1
        assert (await asyncio.to_thread(readyz, running.consumer))[0] == 200
    finally:
        gate.stop()
        running.stop.set()
        await running.task


def paho_log(consumer: Consumer) -> list[str]:
    """paho's own log lines of the consumer's client from now on (packets in and out)."""
    lines: list[str] = []
    assert consumer.client is not None
    consumer.client.on_log = lambda _c, _u, _level, line: lines.append(line)
    return lines


def received(lines: list[str]) -> list[tuple[int, int]]:
    """(packet id, payload bytes) of every QoS 1 PUBLISH the client received, in order."""
    got = []
    for line in lines:
        if line.startswith("Received PUBLISH (d") and ", q1," in line:
            mid = int(line.split(", m", 1)[1].split(")", 1)[0])
            got.append((mid, int(line.rsplit("(", 1)[1].split()[0])))
    return got


def acked(lines: list[str]) -> list[int]:
    prefix = "Sending PUBACK (Mid: "
    return [int(line.removeprefix(prefix).rstrip(")")) for line in lines if line.startswith(prefix)]


async def test_acks_follow_arrival_order_while_lanes_settle_in_parallel(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    """MQTT-4.6.0-2: the later event finishes first on its lane, its PUBACK still goes second."""
    billing = FakeBilling()
    running = await start(make_consumer(*mosquitto, billing, lot, f"gw-{lot}"), billing)
    lines = paho_log(running.consumer)
    slow_gate = agent(mosquitto, lot, "in-11", tmp_path)
    fast_gate = agent(mosquitto, lot, "in-12", tmp_path)
    slow_id = f"evt-slow-{lot}"
    billing.slow[slow_id] = 1.0
    try:
        slow = slow_gate.capture("30A-011.11", camera_text=True, event_id=slow_id)
        await wait_for(lambda: slow_id in billing.attempts)  # arrived, being settled
        fast = fast_gate.capture("30A-012.12", camera_text=True)
        await wait_for(lambda: slow.event_id in slow_gate.decisions)
        assert fast.event_id in fast_gate.decisions
        # The lanes ran side by side: the later event was settled first...
        assert [eid for _, eid in billing.order] == [fast.event_id, slow.event_id]
        # ...and every acknowledgement went out in the order the packets came in.
        await wait_for(lambda: len(acked(lines)) == len(received(lines)))
        assert len(received(lines)) >= 2
        assert acked(lines) == [mid for mid, _ in received(lines)]
    finally:
        slow_gate.stop()
        fast_gate.stop()
        running.stop.set()
        await running.task


async def test_an_event_id_reused_by_another_lane_is_refused_not_answered_from_cache(
    running: Running, mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    """Lane A's decision (plate, fare, balance) never goes to lane B; B's gate hears 'closed'."""
    first = agent(mosquitto, lot, "in-13", tmp_path)
    second = agent(mosquitto, lot, "in-14", tmp_path)
    reused = f"evt-reused-{lot}"
    try:
        first.capture("30A-013.13", camera_text=True, event_id=reused)
        own = await asyncio.to_thread(first.wait_command, reused, 10)
        assert own is not None and own.open
        second.capture("30A-014.14", camera_text=True, event_id=reused)
        other = await asyncio.to_thread(second.wait_command, reused, 10)
        assert other is not None and not other.open
        assert other.reason == "refused" and "30A-013.13" not in other.display
        assert other.fare_vnd is None
        rejected = running.consumer.metrics.rejected.labels(code="IdempotencyConflict")
        assert rejected._value.get() == 1
        assert running.billing.attempts[reused] == 2  # the second copy went to billing
        # The lane goes on after the refusal.
        nxt = second.capture("30A-014.15", camera_text=True)
        assert await asyncio.to_thread(second.wait_command, nxt.event_id, 10)
    finally:
        first.stop()
        second.stop()


class Records(logging.Handler):
    """The consumer's log records, each with the event id and lane its context gave it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(ContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_every_log_line_of_a_passage_carries_its_event_id(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    """Also the lines of its failures: the image store and billing each fail before it settles."""
    failures = ["disk gone"]

    def image_store(_event: Any) -> str:
        if failures:
            raise RuntimeError(failures.pop())
        return "images/1.jpg"

    billing = FakeBilling()
    running = await start(
        make_consumer(*mosquitto, billing, lot, f"gw-{lot}", image_store=image_store), billing
    )
    gate = agent(mosquitto, lot, "in-15", tmp_path)
    handler = Records()
    names = ("gateway.consumer", "gateway.plate_reading", "gateway.outbox_publisher")
    loggers = [logging.getLogger(n) for n in names]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    event_id = f"evt-logged-{lot}"
    billing.failing[event_id] = 1
    try:
        gate.capture("30A-015.15", camera_text=True, event_id=event_id)
        assert await asyncio.to_thread(gate.wait_command, event_id, 10)
        await wait_for(lambda: all(r.processed for r in billing.outbox))
        await wait_for(lambda: any("published" in r.getMessage() for r in handler.records))
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
        gate.stop()
        running.stop.set()
        await running.task
    passage = [r for r in handler.records if "stopped after" not in r.getMessage()]
    messages = " | ".join(
        f"{r.getMessage()} {r.exc_info[1] if r.exc_info else ''}" for r in passage
    )
    assert "disk gone" in messages and "database unreachable" in messages  # both failures seen
    assert [(r.getMessage(), r.event_id) for r in passage if r.event_id != event_id] == []  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SlowRead:
    text: str | None
    confidence: float
    auto_ok: bool


async def test_a_slow_plate_read_does_not_hold_up_another_lane(
    mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    """Reading runs off the event loop: a camera-text event on another lane is answered first."""
    reading = threading.Event()

    def slow_reader(_frames: Any, _crop: Any, _enough: float | None = None) -> Future[Any]:
        fut: Future[Any] = Future()
        reading.set()
        threading.Timer(2.0, fut.set_result, [SlowRead("30A-017.17", 0.99, True)]).start()
        return fut

    billing = FakeBilling()
    running = await start(
        make_consumer(*mosquitto, billing, lot, f"gw-{lot}", read_plate=slow_reader), billing
    )
    camera = agent(mosquitto, lot, "in-17", tmp_path)
    texting = agent(mosquitto, lot, "in-18", tmp_path)
    try:
        slow = camera.capture()  # frames only: the plate must be read
        await asyncio.to_thread(reading.wait, 10)
        fast = texting.capture("30A-018.18", camera_text=True)
        fast_cmd = await asyncio.to_thread(texting.wait_command, fast.event_id, 10)
        slow_cmd = await asyncio.to_thread(camera.wait_command, slow.event_id, 10)
        assert fast_cmd is not None and slow_cmd is not None
        assert fast_cmd.received_at < slow_cmd.received_at
        assert [eid for _, eid in billing.order] == [fast.event_id, slow.event_id]
    finally:
        camera.stop()
        texting.stop()
        running.stop.set()
        await running.task
