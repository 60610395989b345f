"""The lane's event buffer on disk: every captured event stays until the center has answered it.

Why a buffer of its own, and why "answered" rather than "sent": the broker's acknowledgement
(PUBACK) is not the end of the road. A broker restarted or killed with ``kill -9`` loses what it
had acknowledged but not yet delivered, and a gateway that was not subscribed at that moment
never sees it. So an event leaves this buffer's care only when its decision (the barrier
command carrying its event id) has arrived; until then it is resent with the same id after a
timeout that doubles up to a cap. Billing is idempotent by event id, so a resend costs the
gateway a lookup, never a second debit.

Each row's state:

- *buffered*: captured, not yet acknowledged by the broker (``attempts = 0``);
- *unanswered*: acknowledged at least once, no decision yet; due again at ``due_at``;
- *answered*: the decision arrived (``answered_at``, the command in ``answer``); its frames are
  dropped at once and the row itself once it is older than the newest ``keep`` answered rows.

The next row to send is the lowest sequence number among the buffered rows and the unanswered
rows that are due, so events go out in capture order, and an event nobody answers is resent
without holding back the events captured after it. Times are wall-clock seconds (``time.time``):
they must mean the same after the edge computer restarts.

SQLite in autocommit mode with explicit ``BEGIN IMMEDIATE`` transactions, one connection behind
a lock (the sender thread, the MQTT thread and capture callers share it). A transaction that is
interrupted (an exception, even ``KeyboardInterrupt``, between BEGIN and COMMIT) is rolled back
only when one is still open, and the original exception is what the caller sees: a failing
ROLLBACK must never replace it (that once turned a Ctrl-C into an ``OperationalError`` that the
traffic loop swallowed).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    captured_at TEXT NOT NULL,
    buffered_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_sent_at REAL,
    sent_at REAL,
    due_at REAL,
    answered_at REAL,
    answer TEXT
);
CREATE INDEX IF NOT EXISTS events_open ON events (answered_at, seq);
"""


@dataclass(frozen=True)
class Outgoing:
    """A row the sender should publish now."""

    seq: int
    event_id: str
    payload: bytes
    attempts: int  # acknowledged sends so far (0: never)


@dataclass(frozen=True)
class BufferedEvent:
    """What the lane needs to know of one of its events when its answer arrives."""

    event_id: str
    buffered_at: float
    answered: bool


@dataclass(frozen=True)
class Backlog:
    """Counts for the gate's status report."""

    buffered: int  # never acknowledged by the broker
    unanswered: int  # acknowledged, no decision yet
    oldest_unanswered_s: float | None  # since the first send of the oldest unanswered event


@dataclass(frozen=True)
class ResendPolicy:
    """Resend an unanswered event ``first_s`` after its first send, then twice as long each
    time, never more than ``max_s`` apart."""

    first_s: float = 10.0
    max_s: float = 60.0

    def __post_init__(self) -> None:
        if self.first_s <= 0 or self.max_s < self.first_s:
            raise ValueError("resend policy needs 0 < first_s <= max_s")

    def delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th acknowledged send (1, 2, ...)."""
        return min(self.first_s * 2 ** max(attempts - 1, 0), self.max_s)


class EventBuffer:
    def __init__(
        self,
        path: Path,
        *,
        keep: int = 1000,
        policy: ResendPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self.keep = keep
        self.policy = policy or ResendPolicy()
        self._clock = clock
        with self._lock:
            self._migrate()

    # --- schema ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; rolled back on any exception, which then propagates as it
        was (call with the lock held)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version >= SCHEMA_VERSION:
            return
        with self._transaction() as db:
            # One statement at a time: executescript() would COMMIT the transaction first.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            if _has_table(db, "outbox"):
                moved = _from_first_agent(db, self._clock())
                log.info("gate buffer %s: %d events taken over from the old layout", self, moved)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- capture ----------------------------------------------------------------------------

    def add(self, event_id: str, captured_at: str, encode: Callable[[int], bytes]) -> int:
        """Store a new event; ``encode(seq)`` makes its bytes with the sequence number it gets
        (ValueError for an event id this buffer holds already, or what ``encode`` raises).

        The number is taken and the row written in one transaction: two captures at once never
        share a number, and a number is never reused (pruned rows included). Returns it.
        """
        with self._lock, self._transaction() as db:
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            seq = (int(row[0]) if row else 0) + 1
            try:
                db.execute(
                    "INSERT INTO events (seq, event_id, payload, captured_at, buffered_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (seq, event_id, encode(seq), captured_at, self._clock()),
                )
            except sqlite3.IntegrityError:
                raise ValueError(f"event id {event_id} was used before at this lane") from None
        return seq

    # --- sending ----------------------------------------------------------------------------

    def next_to_send(self) -> Outgoing | None:
        """The lowest-numbered event that is buffered, or unanswered and due again."""
        with self._lock:
            row = self._db.execute(
                "SELECT seq, event_id, payload, attempts FROM events "
                "WHERE answered_at IS NULL AND (due_at IS NULL OR due_at <= ?) "
                "ORDER BY seq LIMIT 1",
                (self._clock(),),
            ).fetchone()
        return None if row is None else Outgoing(int(row[0]), str(row[1]), bytes(row[2]), row[3])

    def seconds_to_next_due(self) -> float | None:
        """How long until an unanswered event is due again (None: nothing waits)."""
        with self._lock:
            (due,) = self._db.execute(
                "SELECT MIN(due_at) FROM events WHERE answered_at IS NULL"
            ).fetchone()
        return None if due is None else max(0.0, float(due) - self._clock())

    def sent(self, seq: int) -> None:
        """The broker acknowledged a send: due again after the policy's delay, unless answered."""
        now = self._clock()
        with self._lock, self._transaction() as db:
            row = db.execute("SELECT attempts FROM events WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return
            attempts = int(row[0]) + 1
            db.execute(
                "UPDATE events SET attempts = ?, sent_at = ?, "
                "first_sent_at = COALESCE(first_sent_at, ?), due_at = ? WHERE seq = ?",
                (attempts, now, now, now + self.policy.delay(attempts), seq),
            )

    def defer(self, seq: int, seconds: float) -> None:
        """Not taken this time (the broker refused it): try again in ``seconds``."""
        with self._lock:
            self._db.execute(
                "UPDATE events SET due_at = ? WHERE seq = ?", (self._clock() + seconds, seq)
            )

    def resend_unanswered_now(self) -> int:
        """Make every unanswered event due at once (a new connection: the broker may have lost
        what it had acknowledged); returns how many."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE events SET due_at = NULL WHERE answered_at IS NULL AND attempts > 0"
            )
        return int(cur.rowcount)

    def payload_of(self, event_id: str) -> bytes | None:
        """The bytes of an event still without a decision (None: unknown or answered)."""
        with self._lock:
            row = self._db.execute(
                "SELECT payload FROM events WHERE event_id = ? AND answered_at IS NULL",
                (event_id,),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def amend(self, event_id: str, payload: bytes) -> bool:
        """Replace an unanswered event's bytes (same id: the edge added its own decision) and
        make it due at once; False when it was answered meanwhile."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE events SET payload = ?, due_at = NULL "
                "WHERE event_id = ? AND answered_at IS NULL",
                (payload, event_id),
            )
        return bool(cur.rowcount)

    # --- answers ----------------------------------------------------------------------------

    def find(self, event_id: str) -> BufferedEvent | None:
        with self._lock:
            row = self._db.execute(
                "SELECT buffered_at, answered_at IS NOT NULL FROM events WHERE event_id = ?",
                (event_id,),
            ).fetchone()
        return None if row is None else BufferedEvent(event_id, float(row[0]), bool(row[1]))

    def answered(self, event_id: str, answer: dict[str, Any]) -> bool:
        """Record the decision for an event (its frames are no longer needed); False when the
        event is unknown or was answered before."""
        with self._lock, self._transaction() as db:
            cur = db.execute(
                "UPDATE events SET answered_at = ?, answer = ?, payload = X'', due_at = NULL "
                "WHERE event_id = ? AND answered_at IS NULL",
                (self._clock(), json.dumps(answer, ensure_ascii=False), event_id),
            )
            if cur.rowcount:
                self._prune(db)
        return bool(cur.rowcount)

    def _prune(self, db: sqlite3.Connection) -> None:
        """Answered rows beyond the newest ``keep`` go. Rows without an answer never do: they
        are what the buffer is for."""
        db.execute(
            "DELETE FROM events WHERE answered_at IS NOT NULL AND seq <= (SELECT seq FROM events "
            "WHERE answered_at IS NOT NULL ORDER BY seq DESC LIMIT 1 OFFSET ?)",
            (self.keep,),
        )

    # --- reports ------------------------------------------------------------------------------

    def backlog(self) -> Backlog:
        with self._lock:
            buffered, unanswered, first = self._db.execute(
                "SELECT SUM(attempts = 0), SUM(attempts > 0), "
                "MIN(CASE WHEN attempts > 0 THEN first_sent_at END) "
                "FROM events WHERE answered_at IS NULL"
            ).fetchone()
        oldest = None if first is None else max(0.0, self._clock() - float(first))
        return Backlog(int(buffered or 0), int(unanswered or 0), oldest)

    def unanswered_ids(self) -> list[str]:
        """Events sent or buffered that have no decision yet, in capture order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id FROM events WHERE answered_at IS NULL ORDER BY seq"
            ).fetchall()
        return [str(r[0]) for r in rows]

    def answers(self) -> list[tuple[str, dict[str, Any]]]:
        """(event id, decision) of the answered events still kept, in capture order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, answer FROM events WHERE answered_at IS NOT NULL ORDER BY seq"
            ).fetchall()
        return [(str(r[0]), json.loads(r[1])) for r in rows]

    def __repr__(self) -> str:
        return f"EventBuffer({self._db_path()})"

    def _db_path(self) -> str:
        with contextlib.suppress(sqlite3.Error):
            row = self._db.execute("PRAGMA database_list").fetchone()
            return str(row[2])
        return "?"


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        is not None
    )


def _from_first_agent(db: sqlite3.Connection, now: float) -> int:
    """Take over a buffer of the first gate agent (``outbox`` + ``barrier_log``, from before
    events were resent until answered): unsent events stay buffered, sent ones without an
    answer are resent at once, answered ones are kept as answered; numbering carries on."""
    has_log = _has_table(db, "barrier_log")
    answers = (
        {
            str(r[0]): (r[1], r[2], r[3], r[4])
            for r in db.execute("SELECT event_id, open, reason, display, fare_vnd FROM barrier_log")
        }
        if has_log
        else {}
    )
    moved = 0
    for seq, event_id, payload, captured_at, sent_at in db.execute(
        "SELECT seq, event_id, payload, captured_at, sent_at FROM outbox ORDER BY seq"
    ).fetchall():
        answer = answers.get(event_id)
        decision = None
        if answer is not None:
            keys = ("open", "reason", "display", "fare_vnd")
            decision = json.dumps(dict(zip(keys, (bool(answer[0]), *answer[1:4]), strict=True)))
        sent = now if sent_at is not None else None
        db.execute(
            "INSERT INTO events (seq, event_id, payload, captured_at, buffered_at, attempts, "
            "first_sent_at, sent_at, answered_at, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                event_id,
                b"" if decision else payload,
                captured_at,
                now,
                1 if sent else 0,
                sent,
                sent,
                now if decision else None,
                decision,
            ),
        )
        moved += 1
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    (newest,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
    last = max(int(row[0]) if row else 0, int(newest))
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
    db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (last,))
    db.execute("DROP TABLE outbox")
    if has_log:
        db.execute("DROP TABLE barrier_log")
    return moved
