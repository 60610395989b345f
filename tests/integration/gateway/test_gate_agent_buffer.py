"""The gate agent's SQLite buffer: bounded (sent and answered rows are pruned, images first) and
one sequence number per captured event even when two captures race."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.gate_agent import AgentConfig, GateAgent
from tests.integration.gateway.test_consumer_mqtt import (
    Running,
    agent,
    wait_for,
)

pytestmark = pytest.mark.integration


def rows(path: Path) -> list[tuple[int, int, bool]]:
    """(seq, payload bytes, sent) of every buffered event, read beside the agent."""
    with sqlite3.connect(path) as db:
        got = db.execute("SELECT seq, length(payload), sent_at IS NOT NULL FROM outbox").fetchall()
    return [(int(s), int(n), bool(sent)) for s, n, sent in got]


@pytest.fixture()
def switchy() -> Iterator[None]:
    """Switch threads as often as possible, so that a race shows up if there is one."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_concurrent_captures_get_distinct_sequence_numbers(tmp_path: Path, switchy: None) -> None:
    gate = GateAgent(AgentConfig("L1", "in-1", "entry", tmp_path / "buf.sqlite"))
    events = []
    lock = threading.Lock()

    def capture_many() -> None:
        for i in range(150):
            e = gate.capture(f"30A-{i:03d}.00", camera_text=True)
            with lock:
                events.append(e)

    threads = [threading.Thread(target=capture_many) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = sorted(e.seq for e in events if e.seq is not None)
    assert seqs == list(range(1, 451))  # each event its own number, none skipped
    # ...and the number in the event is the buffer's order (replays go out in that order).
    assert sorted(s for s, _, _ in rows(tmp_path / "buf.sqlite")) == seqs
    gate.stop()


async def test_sent_and_answered_events_are_pruned_to_a_bounded_history(
    running: Running, mosquitto: tuple[str, int], lot: str, tmp_path: Path
) -> None:
    gate = agent(mosquitto, lot, "in-20", tmp_path, keep_sent=5)
    try:
        events = [gate.capture(f"30A-{i:03d}.20", camera_text=True) for i in range(12)]
        await wait_for(lambda: all(e.event_id in gate.commands for e in events), 15)
        await wait_for(lambda: gate.backlog() == 0)
        kept = await asyncio.to_thread(rows, tmp_path / "in-20.sqlite")
        assert [s for s, _, _ in kept] == [e.seq for e in events[-5:]]  # the newest 5 only
        # Answered: the images are no longer needed (the last one may still be in flight).
        assert all(size == 0 for _, size, _ in kept[:-1])
        assert len(gate.barrier_log()) <= 5
        # The sequence goes on after pruning (never reused).
        later = gate.capture("30A-999.20", camera_text=True)
        assert later.seq == (events[-1].seq or 0) + 1
    finally:
        gate.stop()


def test_sent_events_never_answered_go_once_an_answer_would_be_stale(
    mosquitto: tuple[str, int], tmp_path: Path
) -> None:
    """No consumer on this lot: nothing is answered, the buffer still stays bounded."""
    lot = f"B{uuid.uuid4().hex[:10]}"
    gate = agent(mosquitto, lot, "in-21", tmp_path, keep_sent=2, max_command_age_s=0.2)
    try:
        for i in range(6):
            gate.capture(f"30A-{i:03d}.21", camera_text=True)
        deadline = time.monotonic() + 10
        while gate.backlog() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # every answer to those six would now be too old to apply
        last = gate.capture("30A-999.21", camera_text=True)
        while gate.backlog() and time.monotonic() < deadline:
            time.sleep(0.05)
        kept = [s for s, _, _ in rows(tmp_path / "in-21.sqlite")]
        assert kept[-1] == last.seq and len(kept) <= 3
    finally:
        gate.stop()
