"""Sign-in throttling: exponential backoff per user name and per client address.

A security pass sent 30 wrong admin passwords in 3.4 s and got 30 answers of 401, none of
429: nothing slowed a password guesser down. Now each user name and each client address may
fail a few times freely; after that every further failure doubles the wait before the next
attempt is even checked (argon2 is not run while a key waits, so guessing costs the guesser
time, not our CPU). An address gets more free failures than a user name, since many drivers
may sign in from behind one NAT; a success clears the user name's record, never the
address's (one good account must not reset the guessing at others).

Memory is bounded: each kind keeps at most ``max_keys`` records, forgetting the least recently
touched first, and a record quiet for ``forget_after_s`` starts over. The records live in the
process: several API instances throttle separately, each still bounding the rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    free_failures: int  # failures allowed before any wait
    base_delay_s: float = 1.0  # the first wait; it doubles with each further failure
    max_delay_s: float = 900.0
    forget_after_s: float = 3600.0  # a record quiet this long is forgotten
    max_keys: int = 10_000

    def delay(self, failures: int) -> float:
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2 ** min(over - 1, 30))


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last: float = 0.0
    reported: bool = False  # the current block was written to the audit log already


@dataclass
class _Table:
    backoff: Backoff
    records: OrderedDict[str, _Record] = field(default_factory=OrderedDict)

    def get(self, key: str, now: float) -> _Record | None:
        record = self.records.get(key)
        if record is not None and now - record.last > self.backoff.forget_after_s:
            del self.records[key]
            return None
        return record

    def touch(self, key: str, now: float) -> _Record:
        record = self.get(key, now) or _Record()
        record.last = now
        self.records[key] = record
        self.records.move_to_end(key)
        while len(self.records) > self.backoff.max_keys:
            self.records.popitem(last=False)
        return record


@dataclass(frozen=True)
class Verdict:
    """``retry_after_s`` > 0: refuse with 429; ``report``: the first refusal of this block."""

    retry_after_s: float = 0.0
    report: bool = False

    @property
    def blocked(self) -> bool:
        return self.retry_after_s > 0

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


class SignInThrottle:
    def __init__(
        self,
        per_user: Backoff | None = None,
        per_address: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = _Table(per_user or Backoff(free_failures=5))
        self._addresses = _Table(per_address or Backoff(free_failures=20))
        self._clock = clock
        self._lock = threading.Lock()

    def check(self, username: str, address: str) -> Verdict:
        """Whether a sign-in by ``username`` from ``address`` may be tried now."""
        now = self._clock()
        with self._lock:
            waits = [
                (record.blocked_until - now, record)
                for table, key in self._keys(username, address)
                if (record := table.get(key, now)) is not None and record.blocked_until > now
            ]
            if not waits:
                return Verdict()
            wait, record = max(waits, key=lambda pair: pair[0])
            report = not record.reported
            for _, r in waits:
                r.reported = True
            return Verdict(wait, report)

    def failed(self, username: str, address: str) -> int:
        """Count a wrong password; returns the user name's failures so far."""
        now = self._clock()
        failures = 0
        with self._lock:
            for table, key in self._keys(username, address):
                record = table.touch(key, now)
                record.failures += 1
                delay = table.backoff.delay(record.failures)
                if delay:
                    record.blocked_until, record.reported = now + delay, False
                if table is self._users:
                    failures = record.failures
        return failures

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._users.records.pop(_user_key(username), None)

    def sizes(self) -> tuple[int, int]:
        """(user names, addresses) remembered now."""
        with self._lock:
            return len(self._users.records), len(self._addresses.records)

    def _keys(self, username: str, address: str) -> tuple[tuple[_Table, str], ...]:
        return ((self._users, _user_key(username)), (self._addresses, address or "?"))


def _user_key(username: str) -> str:
    return username.strip().lower()[:120]  # how gateway.auth.users stores names
