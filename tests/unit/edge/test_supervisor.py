"""Work that must go on for the life of the process survives whatever it raises."""

from __future__ import annotations

import threading
import time

from edge.supervisor import Supervised


def test_a_step_that_raises_is_logged_and_the_work_goes_on() -> None:
    stop = threading.Event()
    done: list[int] = []
    errors = iter([RuntimeError("Message publish failed: no connection"), ValueError("x")])

    def step() -> None:
        err = next(errors, None)
        if err is not None:
            raise err
        done.append(1)
        if len(done) >= 3:
            stop.set()

    worker = Supervised("test-sender", step, stop, pause_s=0.01)
    worker.start()
    worker.join(5)
    assert not worker.alive and worker.failures == 2 and len(done) == 3


def test_stopping_is_an_event_and_ends_the_thread_promptly() -> None:
    stop = threading.Event()

    def idle() -> None:
        stop.wait(0.05)

    worker = Supervised("idle", idle, stop)
    worker.start()
    time.sleep(0.1)
    started = time.monotonic()
    stop.set()
    worker.join(5)
    assert not worker.alive and time.monotonic() - started < 1.0


def test_even_a_base_exception_does_not_end_it() -> None:
    stop = threading.Event()
    calls = []

    def step() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise SystemExit(3)
        stop.set()

    worker = Supervised("stubborn", step, stop, pause_s=0.01)
    worker.start()
    worker.join(5)
    assert calls == [1, 1] and worker.failures == 1
