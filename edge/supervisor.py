"""A thread that keeps doing its job whatever its job raises, until it is told to stop.

A gate's sender once died of one ``RuntimeError`` from paho and nothing restarted it: the gate
kept capturing into its buffer and never sent again. Work that must go on for the life of the
process runs here instead: one step at a time, and any exception from a step is logged, counted
and followed by a pause, after which the next step runs. Stopping is an event, never an
exception unwinding through I/O.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Supervised:
    def __init__(
        self,
        name: str,
        step: Callable[[], None],
        stop: threading.Event,
        *,
        pause_s: float = 1.0,
    ) -> None:
        self.name = name
        self._step = step
        self._stop = stop
        self._pause_s = pause_s
        self.failures = 0
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except BaseException:
                if self._stop.is_set():
                    break
                self.failures += 1
                log.exception(
                    "%s failed (%d so far); going on in %.1fs",
                    self.name,
                    self.failures,
                    self._pause_s,
                )
                self._stop.wait(self._pause_s)

    def join(self, timeout: float) -> None:
        if self.thread.is_alive():
            self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()
