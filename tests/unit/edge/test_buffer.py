"""The lane's buffer on disk: events leave its care only when answered, resends back off, numbers
are never shared or reused, and an interrupted write never turns into another error."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.buffer import EventBuffer, ResendPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def buffer(tmp_path: Path, clock: Clock) -> Iterator[EventBuffer]:
    b = EventBuffer(tmp_path / "lane.sqlite", keep=3, policy=ResendPolicy(10, 60), clock=clock)
    yield b
    b.close()


def add(buffer: EventBuffer, event_id: str) -> int:
    return buffer.add(
        event_id, "2026-11-23T08:00:00+07:00", lambda seq: f"{event_id}#{seq}".encode()
    )


def send_next(buffer: EventBuffer) -> str | None:
    row = buffer.next_to_send()
    if row is None:
        return None
    buffer.sent(row.seq)
    return row.event_id


def test_events_go_out_in_capture_order_and_are_resent_until_answered(
    buffer: EventBuffer, clock: Clock
) -> None:
    for i in range(3):
        add(buffer, f"e{i}")
    assert [send_next(buffer) for _ in range(4)] == ["e0", "e1", "e2", None]
    assert buffer.backlog().buffered == 0 and buffer.backlog().unanswered == 3
    clock.now += 9.9
    assert buffer.next_to_send() is None  # not due yet
    buffer.answered("e1", {"open": True})
    clock.now += 0.2
    assert [send_next(buffer) for _ in range(3)] == ["e0", "e2", None]  # e1 is answered
    buffer.answered("e2", {"open": False})
    # Backoff: 20 s after the second send, then 40, then 60 (the cap) for ever.
    for wait in (20, 40, 60, 60):
        clock.now += wait - 0.5
        assert buffer.next_to_send() is None
        clock.now += 0.5
        assert send_next(buffer) == "e0"
    assert buffer.unanswered_ids() == ["e0"]


def test_an_unanswered_event_never_holds_back_later_ones(buffer: EventBuffer, clock: Clock) -> None:
    add(buffer, "stuck")
    assert send_next(buffer) == "stuck"
    for i in range(5):
        add(buffer, f"later{i}")
        assert send_next(buffer) == f"later{i}"
        buffer.answered(f"later{i}", {"open": True})
    clock.now += 10
    assert send_next(buffer) == "stuck"  # and it is still resent


def test_backlog_counts_and_the_age_of_the_oldest_unanswered_event(
    buffer: EventBuffer, clock: Clock
) -> None:
    assert buffer.backlog().oldest_unanswered_s is None
    add(buffer, "a")
    add(buffer, "b")
    send_next(buffer)
    clock.now += 7
    b = buffer.backlog()
    assert (b.buffered, b.unanswered, b.oldest_unanswered_s) == (1, 1, 7.0)
    send_next(buffer)
    clock.now += 13  # a resend does not make an event younger
    assert buffer.backlog().oldest_unanswered_s == 20.0
    buffer.answered("a", {})
    buffer.answered("b", {})
    assert buffer.backlog() == type(b)(0, 0, None)


def test_a_reconnect_makes_every_unanswered_event_due_at_once(buffer: EventBuffer) -> None:
    for name in ("a", "b", "c"):
        add(buffer, name)
        send_next(buffer)
    buffer.answered("b", {})
    assert buffer.next_to_send() is None
    assert buffer.resend_unanswered_now() == 2
    assert [send_next(buffer) for _ in range(3)] == ["a", "c", None]


def test_answers_drop_frames_at_once_and_rows_beyond_the_newest_kept(
    buffer: EventBuffer, tmp_path: Path, clock: Clock
) -> None:
    for i in range(8):
        add(buffer, f"e{i}")
        send_next(buffer)
    for i in (0, 1, 2, 3, 5, 6, 7):  # e4 stays unanswered
        assert buffer.answered(f"e{i}", {"open": True, "display": f"d{i}"})
    assert not buffer.answered("e7", {"open": False})  # a repeat changes nothing
    assert not buffer.answered("nope", {"open": True})
    with sqlite3.connect(tmp_path / "lane.sqlite") as db:
        rows = db.execute("SELECT event_id, length(payload) FROM events ORDER BY seq").fetchall()
    # keep=3 answered rows, plus every unanswered one however old
    assert rows == [("e4", len(b"e4#5")), ("e5", 0), ("e6", 0), ("e7", 0)]
    assert [e for e, _ in buffer.answers()] == ["e5", "e6", "e7"]
    assert buffer.answers()[-1][1]["display"] == "d7"
    # numbers go on after pruning, never reused
    assert add(buffer, "e8") == 9


def test_concurrent_adds_get_distinct_numbers_in_buffer_order(tmp_path: Path) -> None:
    buffer = EventBuffer(tmp_path / "lane.sqlite")
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a race would show
    seqs: list[int] = []
    lock = threading.Lock()

    def adds(n: int) -> None:
        for i in range(150):
            seq = add(buffer, f"t{n}-{i}")
            with lock:
                seqs.append(seq)

    try:
        threads = [threading.Thread(target=adds, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(before)
    assert sorted(seqs) == list(range(1, 451))
    sent = []
    while (row := buffer.next_to_send()) is not None:
        assert row.payload.endswith(f"#{row.seq}".encode())  # the number inside is the row's
        sent.append(row.seq)
        buffer.sent(row.seq)
    assert sent == list(range(1, 451))
    buffer.close()


def test_a_reused_event_id_is_refused(buffer: EventBuffer) -> None:
    add(buffer, "same")
    with pytest.raises(ValueError, match="used before"):
        add(buffer, "same")
    assert buffer.backlog().buffered == 1


def test_an_interrupt_inside_a_write_stays_that_interrupt(buffer: EventBuffer) -> None:
    """Ctrl-C arriving in the middle of a capture must reach whoever stops the program, as a
    KeyboardInterrupt: a ROLLBACK with no transaction left used to replace it with an
    OperationalError that the traffic loop's ``except Exception`` swallowed."""

    def interrupted(_seq: int) -> bytes:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        buffer.add("x", "2026-11-23T08:00:00+07:00", interrupted)
    # Interrupted right after COMMIT, still inside the transaction's block:
    with pytest.raises(KeyboardInterrupt), buffer._lock, buffer._transaction() as db:
        db.execute("COMMIT")
        raise KeyboardInterrupt
    assert add(buffer, "y") == 1  # nothing half-written, the buffer goes on


def test_a_buffer_of_the_first_gate_agent_is_taken_over(tmp_path: Path, clock: Clock) -> None:
    """Unsent events stay buffered, sent ones without an answer are resent, answered ones stay
    answered, and numbering carries on from the old counter."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL
                UNIQUE, payload BLOB NOT NULL, captured_at TEXT NOT NULL, sent_at TEXT);
            CREATE TABLE barrier_log (event_id TEXT PRIMARY KEY, open INTEGER NOT NULL,
                reason TEXT NOT NULL, display TEXT NOT NULL, fare_vnd INTEGER,
                received_at TEXT NOT NULL);
            INSERT INTO outbox VALUES (4, 'answered', X'', 't', 's');
            INSERT INTO outbox VALUES (5, 'sent', X'0102', 't', 's');
            INSERT INTO outbox VALUES (6, 'unsent', X'0304', 't', NULL);
            INSERT INTO barrier_log VALUES ('answered', 1, 'exit_paid', 'OK', 25000, 'r');
            UPDATE sqlite_sequence SET seq = 9 WHERE name = 'outbox';
            """
        )
    buffer = EventBuffer(path, clock=clock)
    b = buffer.backlog()
    assert (b.buffered, b.unanswered) == (1, 1)
    assert buffer.unanswered_ids() == ["sent", "unsent"]
    assert [send_next(buffer) for _ in range(3)] == ["sent", "unsent", None]
    answers = dict(buffer.answers())
    assert answers["answered"] == {
        "open": True, "reason": "exit_paid", "display": "OK", "fare_vnd": 25000
    }  # fmt: skip
    assert add(buffer, "new") == 10
    buffer.close()
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "outbox" not in tables and "barrier_log" not in tables
    reopened = EventBuffer(path, clock=clock)  # a second open changes nothing
    assert reopened.unanswered_ids() == ["sent", "unsent", "new"]
    assert json.loads(json.dumps(reopened.answers()))[0][0] == "answered"
    reopened.close()


def test_the_resend_policy_doubles_up_to_its_cap() -> None:
    policy = ResendPolicy(2, 15)
    assert [policy.delay(n) for n in range(1, 7)] == [2, 4, 8, 15, 15, 15]
    with pytest.raises(ValueError):
        ResendPolicy(0, 10)
