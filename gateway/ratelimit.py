"""A small sliding-window limit per key (a client address), with bounded memory.

The public invoice lookup answers anyone; the limit keeps a person (or a script) from trying
codes faster than a person reads invoices. Memory is bounded: the least recently seen keys are
forgotten first, so a flood of addresses cannot grow the table without end.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int  # 0 when allowed


class SlidingWindowLimit:
    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> Verdict:
        """Count one request of ``key``; refused (not counted) once over the limit."""
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            self._hits[key] = hits  # most recently seen last
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            if len(hits) >= self.limit:
                wait = hits[0] + self.window_s - now
                return Verdict(False, max(1, math.ceil(wait)))
            hits.append(now)
            return Verdict(True, 0)
