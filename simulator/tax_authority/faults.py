"""Fault injection: an unreliable tax authority on demand, to test clients' retries.

An outermost ASGI wrapper (it must see the server's own ``send`` to reach the connection):
for API requests it may add latency, answer 503 before doing anything, close the connection
without an answer before doing anything, or do the work and then close the connection so the
answer is lost (the nastiest case for idempotency). Draws come from one seeded generator, so a
given seed and request order give the same faults every run.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("simulator.tax_authority.faults")


@dataclass(frozen=True)
class FaultPlan:
    latency_ms: int = 0
    latency_jitter_ms: int = 0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    drop_after_rate: float = 0.0
    seed: int | None = None
    path_prefixes: tuple[str, ...] = ("/api/tdiep",)

    @property
    def active(self) -> bool:
        return bool(
            self.latency_ms
            or self.latency_jitter_ms
            or self.error_rate
            or self.drop_rate
            or self.drop_after_rate
        )


@dataclass(frozen=True)
class Decision:
    delay_s: float
    action: str  # "pass" | "error" | "drop" | "drop_after"


@dataclass
class FaultDice:
    """Seeded decisions, one per request, in arrival order (thread-safe)."""

    plan: FaultPlan
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.plan.seed)

    def draw(self) -> Decision:
        with self._lock:
            # Always draw the same number of values so the stream stays aligned per request.
            jitter, roll = self._rng.random(), self._rng.random()
        plan = self.plan
        delay = (plan.latency_ms + jitter * plan.latency_jitter_ms) / 1000
        if roll < plan.drop_rate:
            action = "drop"
        elif roll < plan.drop_rate + plan.error_rate:
            action = "error"
        elif roll < plan.drop_rate + plan.error_rate + plan.drop_after_rate:
            action = "drop_after"
        else:
            action = "pass"
        with self._lock:
            self.counts[action] += 1
        return Decision(delay_s=delay, action=action)


class ConnectionDropped(ConnectionResetError):
    """Raised where the server's connection cannot be reached (in-process test clients)."""


def _close_connection(send: Send) -> bool:
    """Close the client's TCP connection without an answer (uvicorn's h11/httptools cycles)."""
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    cycle.disconnected = True  # tells uvicorn not to write a 500 of its own
    transport.close()
    return True


class FaultInjector:
    def __init__(self, app: ASGIApp, dice: FaultDice) -> None:
        self.app = app
        self.dice = dice

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.dice.plan.active
            or not scope["path"].startswith(self.dice.plan.path_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        decision = self.dice.draw()
        if decision.delay_s > 0:
            await asyncio.sleep(decision.delay_s)
        if decision.action == "pass":
            await self.app(scope, receive, send)
            return
        log.warning("tax authority: injecting fault %s on %s", decision.action, scope["path"])
        if decision.action == "error":
            await _send_503(send)
            return
        if decision.action == "drop_after":

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
        if not _close_connection(send):
            raise ConnectionDropped(f"injected fault: {decision.action}")


async def _send_503(send: Send) -> None:
    body = b"injected fault: service unavailable"
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
