"""Capped exponential backoff, the one retry schedule of the gateway.

Used where giving up would be worse than waiting: a lane whose settlement fails (skipping its
event would settle the lane out of order) and the first connection to the broker (a gateway
started before its broker must wait for it, not exit).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays ``initial_s, 2 * initial_s, ...`` up to ``max_s``, then ``max_s`` for ever."""

    initial_s: float = 0.2
    max_s: float = 5.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")

    def delays(self) -> Iterator[float]:
        delay = self.initial_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)
