"""The barrier and its safety rules, whatever drives it (a Modbus coil, a GPIO relay, memory).

A barrier controller takes a contact pulse to raise the arm. The rules this class keeps:

- **Pulse**: ``open()`` switches the open output on at once and off ``pulse_s`` later; another
  ``open()`` during the pulse extends it.
- **Vehicle under the arm**: when an ``occupied`` input (safety loop, photocell) says a vehicle
  is there, or cannot be read, the open output is held on past the pulse until it clears. With
  a ``close`` output (barriers that do not lower by themselves) the arm is lowered only once the
  vehicle has passed and nothing is under it (or, if no vehicle came, ``close_after_s`` after
  the open); a vehicle arriving under the arm while it lowers stops the close and raises the
  arm again. So the arm is never driven down onto a vehicle.
- **Manual open**: a rising edge on the ``manual_open`` input (the attendant's button) opens.
- **Every open is logged** with its reason (``central``: the gateway's decision, ``offline``:
  the edge's own, ``manual``, ``check``: an installer's test, ``safety``) and detail, counted in
  ``edge_barrier_opens``; an open the I/O could not carry out is logged as an error and
  counted in ``edge_barrier_failures``, and ``open()`` returns False so the lane can say so.

``step()`` does one round of the rules and is called every ``poll_s`` by ``start()``'s thread
(tests call it with their own clock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from edge.io.metrics import IoMetrics
from edge.io.points import DigitalInput, DigitalOutput, IoError

log = logging.getLogger(__name__)

OpenReason = Literal["central", "offline", "manual", "check", "safety"]


@dataclass(frozen=True)
class BarrierOpen:
    at: float  # clock() when asked
    reason: OpenReason
    detail: str
    event_id: str | None
    ok: bool  # False: the open output could not be switched


class BarrierController:
    def __init__(
        self,
        lane: str,
        open_output: DigitalOutput,
        *,
        pulse_s: float = 0.5,
        close_output: DigitalOutput | None = None,
        occupied: DigitalInput | None = None,
        manual_open: DigitalInput | None = None,
        close_after_s: float = 30.0,
        poll_s: float = 0.05,
        metrics: IoMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if close_output is not None and occupied is None:
            raise ValueError(
                f"lane {lane}: a close output needs an occupied input (the arm is lowered only "
                "once nothing is under it)"
            )
        self.lane = lane
        self.open_output = open_output
        self.close_output = close_output
        self.occupied = occupied
        self.manual_open = manual_open
        self.pulse_s = pulse_s
        self.close_after_s = close_after_s
        self.poll_s = poll_s
        self.metrics = metrics or IoMetrics()
        self.clock = clock
        self.opens: deque[BarrierOpen] = deque(maxlen=200)
        self._lock = threading.RLock()
        self._open_until: float | None = None  # open output on (pulse running or held)
        self._holding = False
        self._opened_at = 0.0
        self._vehicle_seen = False
        self._close_pending = False
        self._closing_until: float | None = None
        self._manual_was = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- commands --------------------------------------------------------------------------

    def open(self, reason: OpenReason, detail: str = "", *, event_id: str | None = None) -> bool:
        """Raise the arm now (one pulse, held while a vehicle is under it). False when the I/O
        failed: the arm did not move (logged and counted)."""
        with self._lock:
            now = self.clock()
            if self._closing_until is not None:
                self._switch(self.close_output, False, "stop lowering")
                self._closing_until = None
            try:
                self.open_output.write(True)
            except IoError as exc:
                self.metrics.barrier_failures.labels(self.lane).inc()
                log.error(
                    "lane %s: barrier NOT opened (%s%s): %s",
                    self.lane,
                    reason,
                    f": {detail}" if detail else "",
                    exc,
                    extra={"event_id": event_id} if event_id else None,
                )
                self.opens.append(BarrierOpen(now, reason, detail, event_id, ok=False))
                return False
            self._open_until = now + self.pulse_s
            self._opened_at = now
            self._vehicle_seen = False
            self._close_pending = self.close_output is not None
            self.metrics.barrier_opens.labels(self.lane, reason).inc()
            log.info(
                "lane %s: barrier OPEN (%s%s)",
                self.lane,
                reason,
                f": {detail}" if detail else "",
                extra={"event_id": event_id} if event_id else None,
            )
            self.opens.append(BarrierOpen(now, reason, detail, event_id, ok=True))
            return True

    @property
    def is_open(self) -> bool:
        """Whether the open output is on (pulse running or held)."""
        with self._lock:
            return self._open_until is not None

    # --- the rules -------------------------------------------------------------------------

    def step(self) -> None:
        with self._lock:
            self._manual()
            now = self.clock()
            occupied = self._occupied()  # None: unknown, which counts as occupied
            if occupied and (self._open_until is not None or self._close_pending):
                self._vehicle_seen = True
            if self._open_until is not None and now >= self._open_until:
                self._end_pulse(occupied)
            if self._closing_until is not None:
                if occupied is not False:
                    self._switch(self.close_output, False, "stop lowering")
                    self._closing_until = None
                    self.open("safety", "vehicle under the arm while it was lowering")
                elif now >= self._closing_until and self._switch(self.close_output, False, "close"):
                    self._closing_until = None
            elif (
                self._close_pending
                and self._open_until is None
                and occupied is False
                and (self._vehicle_seen or now - self._opened_at >= self.close_after_s)
                and self._switch(self.close_output, True, "close")
            ):
                self._close_pending = False
                self._closing_until = now + self.pulse_s
                log.info(
                    "lane %s: lowering the barrier (%s)",
                    self.lane,
                    "the vehicle has passed" if self._vehicle_seen else "no vehicle came",
                )

    def _end_pulse(self, occupied: bool | None) -> None:
        if occupied is not False:
            if not self._holding:
                self._holding = True
                self.metrics.barrier_holds.labels(self.lane).inc()
                log.warning(
                    "lane %s: holding the barrier open: %s",
                    self.lane,
                    "a vehicle is under the arm"
                    if occupied
                    else "cannot tell whether a vehicle is under the arm",
                )
            return
        if self._switch(self.open_output, False, "end of the open pulse"):
            if self._holding:
                log.info("lane %s: nothing under the arm any more; open pulse released", self.lane)
            self._open_until = None
            self._holding = False

    def _occupied(self) -> bool | None:
        if self.occupied is None:
            return False
        try:
            return self.occupied.read()
        except IoError:  # logged and counted by the device
            return None

    def _manual(self) -> None:
        if self.manual_open is None:
            return
        try:
            pressed = self.manual_open.read()
        except IoError:
            return
        if pressed and not self._manual_was:
            self.open("manual", "manual-open input")
        self._manual_was = pressed

    def _switch(self, output: DigitalOutput | None, on: bool, what: str) -> bool:
        if output is None:
            return True
        try:
            output.write(on)
        except IoError as exc:  # the device logs and counts; the next step tries again
            log.debug("lane %s: %s failed: %s", self.lane, what, exc)
            return False
        return True

    # --- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"barrier-{self.lane}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.step()
            except Exception:  # a bug must not leave the arm held for ever without a word
                log.exception("lane %s: barrier step failed", self.lane)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; never leave the close output on, and release the open output only
        when nothing is under the arm."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            if self._closing_until is not None:
                self._switch(self.close_output, False, "stop lowering")
                self._closing_until = None
            if self._open_until is not None:
                if self._occupied() is False:
                    self._switch(self.open_output, False, "release at stop")
                    self._open_until = None
                else:
                    log.warning("lane %s: stopping with the barrier held open", self.lane)
