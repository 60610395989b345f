"""SIGINT and SIGTERM as a stop event: how a long-running command learns it must stop.

``parking demo``, ``parking serve`` and ``parking worker`` (and ``parking edge run`` when it
comes) install these handlers first thing. A handler only sets an event; every loop checks it
and the command stops its parts in order. Never ``KeyboardInterrupt``: an exception raised at an
arbitrary point of the main thread unwinds through whatever I/O it lands in (it once hit a gate's
SQLite capture, whose ROLLBACK turned it into an error that the traffic loop swallowed, and the
demo ran on for minutes after Ctrl-C).

A second signal while stopping means "now": the process exits at once. Its children end with it
all the same (Mosquitto through the parent-death signal, plate-reader workers by watching their
parent), and what it had written is safe (SQLite and PostgreSQL commit atomically).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Yield an event that SIGINT or SIGTERM sets; the previous handlers come back after.

    Call it from the main thread (the only one Python lets set handlers).
    """
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            # No logging here: the handler may run while the main thread holds a log lock.
            os.write(2, f"\n{signal.Signals(signum).name} again: exiting now\n".encode())
            os._exit(128 + signum)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
