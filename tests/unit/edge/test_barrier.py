"""The barrier's safety rules, step by step on a test clock and memory I/O."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.io.barrier import BarrierController
from edge.io.memory import MemoryIo
from edge.io.metrics import IoMetrics
from edge.io.points import InputPin, IoError, OutputPin

OPEN, CLOSE = 16, 17
OCCUPIED, MANUAL = 1, 2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class BrokenOutput:
    def write(self, on: bool) -> None:
        raise IoError("adam (10.0.0.5:502 unit 1): no answer to write coil 16 on within 0.5 s")


class FlakyInput:
    def __init__(self) -> None:
        self.down = False
        self.level = False

    def read(self) -> bool:
        if self.down:
            raise IoError("no answer")
        return self.level


def controller(io: MemoryIo, clock: Clock, **kw: Any) -> BarrierController:
    return BarrierController(
        "g1", OutputPin(io, OPEN), pulse_s=0.5, metrics=IoMetrics(), clock=clock, **kw
    )


def advance(barrier: BarrierController, clock: Clock, seconds: float, step: float = 0.05) -> None:
    end = clock.now + seconds
    while clock.now < end - 1e-9:
        clock.now = min(end, clock.now + step)
        barrier.step()


def test_one_open_is_one_pulse_of_pulse_s() -> None:
    io, clock = MemoryIo(), Clock()
    barrier = controller(io, clock)
    assert barrier.open("central", "paid", event_id="e1")
    assert io.coils[OPEN] is True
    advance(barrier, clock, 0.45)
    assert io.coils[OPEN] is True
    advance(barrier, clock, 0.1)
    assert io.coils[OPEN] is False
    assert not barrier.is_open


def test_an_open_during_the_pulse_extends_it() -> None:
    io, clock = MemoryIo(), Clock()
    barrier = controller(io, clock)
    barrier.open("central")
    advance(barrier, clock, 0.4)
    barrier.open("offline")
    advance(barrier, clock, 0.4)
    assert io.coils[OPEN] is True  # 0.8 s after the first open, 0.4 after the second
    advance(barrier, clock, 0.15)
    assert io.coils[OPEN] is False
    assert [on for _, _, on in io.coil_log] == [True, True, False]


def test_the_pulse_is_held_while_a_vehicle_is_under_the_arm() -> None:
    io, clock = MemoryIo(), Clock()
    barrier = controller(io, clock, occupied=InputPin(io, OCCUPIED))
    barrier.open("central")
    io.set_input(OCCUPIED, True)
    advance(barrier, clock, 10)
    assert io.coils[OPEN] is True
    io.set_input(OCCUPIED, False)
    advance(barrier, clock, 0.1)
    assert io.coils[OPEN] is False
    assert barrier.metrics.count("edge_barrier_holds", lane="g1") == 1


def test_an_occupied_input_that_cannot_be_read_counts_as_occupied() -> None:
    io, clock = MemoryIo(), Clock()
    sensor = FlakyInput()
    barrier = controller(io, clock, occupied=sensor)
    barrier.open("central")
    sensor.down = True
    advance(barrier, clock, 3)
    assert io.coils[OPEN] is True  # never released blind
    sensor.down = False
    advance(barrier, clock, 0.1)
    assert io.coils[OPEN] is False


def test_the_arm_is_lowered_only_after_the_vehicle_passed_and_nothing_is_under_it() -> None:
    clock = Clock()
    io = MemoryIo(clock=clock)
    barrier = controller(
        io, clock, close_output=OutputPin(io, CLOSE), occupied=InputPin(io, OCCUPIED)
    )
    barrier.open("central")
    advance(barrier, clock, 2)
    assert CLOSE not in io.coils  # the car has not come yet: stay up
    io.set_input(OCCUPIED, True)
    advance(barrier, clock, 1)
    assert CLOSE not in io.coils  # under the arm
    io.set_input(OCCUPIED, False)
    advance(barrier, clock, 0.05)
    assert io.coils[CLOSE] is True  # passed: lower
    advance(barrier, clock, 0.6)
    assert io.coils[CLOSE] is False
    assert io.pulses(CLOSE) == [pytest.approx(0.5, abs=0.06)]


def test_a_vehicle_arriving_while_the_arm_lowers_stops_it_and_raises_it_again() -> None:
    io, clock = MemoryIo(), Clock()
    barrier = controller(
        io, clock, close_output=OutputPin(io, CLOSE), occupied=InputPin(io, OCCUPIED)
    )
    barrier.open("central")
    io.set_input(OCCUPIED, True)
    advance(barrier, clock, 1)
    io.set_input(OCCUPIED, False)
    advance(barrier, clock, 0.1)
    assert io.coils[CLOSE] is True
    io.set_input(OCCUPIED, True)  # the next car noses in under the arm
    barrier.step()
    assert io.coils[CLOSE] is False
    assert io.coils[OPEN] is True
    assert barrier.metrics.count("edge_barrier_opens", lane="g1", reason="safety") == 1


def test_with_no_vehicle_the_arm_is_lowered_after_close_after_s() -> None:
    io, clock = MemoryIo(), Clock()
    barrier = controller(
        io,
        clock,
        close_output=OutputPin(io, CLOSE),
        occupied=InputPin(io, OCCUPIED),
        close_after_s=20,
    )
    barrier.open("central")
    advance(barrier, clock, 19)
    assert CLOSE not in io.coils
    advance(barrier, clock, 1.1)
    assert io.coils[CLOSE] is True


def test_a_close_output_without_an_occupied_input_is_refused() -> None:
    io = MemoryIo()
    with pytest.raises(ValueError, match="occupied input"):
        BarrierController("g1", OutputPin(io, OPEN), close_output=OutputPin(io, CLOSE))


def test_the_manual_button_opens_once_per_press() -> None:
    io, clock = MemoryIo(), Clock()
    barrier = controller(io, clock, manual_open=InputPin(io, MANUAL))
    io.set_input(MANUAL, True)
    advance(barrier, clock, 3)  # held for 3 s: one open
    io.set_input(MANUAL, False)
    advance(barrier, clock, 0.1)
    io.set_input(MANUAL, True)
    advance(barrier, clock, 0.1)
    assert [o.reason for o in barrier.opens] == ["manual", "manual"]
    assert len(io.pulses(OPEN)) == 1  # the second pulse is still running


def test_every_open_is_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge.io.barrier")
    io, clock = MemoryIo(), Clock()
    barrier = controller(io, clock)
    barrier.open("offline", "allow-listed 30A12345", event_id="ev-7")
    (record,) = [r for r in caplog.records if "OPEN" in r.getMessage()]
    assert record.getMessage() == "lane g1: barrier OPEN (offline: allow-listed 30A12345)"
    assert record.__dict__["event_id"] == "ev-7"


def test_an_open_the_io_cannot_carry_out_is_an_error_and_returns_false(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = IoMetrics()
    barrier = BarrierController("g1", BrokenOutput(), metrics=metrics, clock=Clock())
    assert barrier.open("central", event_id="ev-8") is False
    assert not barrier.is_open
    assert metrics.count("edge_barrier_failures", lane="g1") == 1
    assert metrics.count("edge_barrier_opens", lane="g1", reason="central") == 0
    assert any(
        r.levelno == logging.ERROR and "barrier NOT opened (central)" in r.getMessage()
        for r in caplog.records
    )
    assert [o.ok for o in barrier.opens] == [False]


def test_stop_releases_the_pulse_but_never_over_a_vehicle() -> None:
    io, clock = MemoryIo(), Clock()
    barrier = controller(io, clock, occupied=InputPin(io, OCCUPIED))
    barrier.open("central")
    barrier.stop()
    assert io.coils[OPEN] is False
    barrier.open("central")
    io.set_input(OCCUPIED, True)
    barrier.stop()
    assert io.coils[OPEN] is True


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0.01, 1.0)), min_size=1, max_size=30))
def test_the_open_output_is_never_released_while_occupied(
    timeline: list[tuple[bool, float]],
) -> None:
    """Whatever the vehicle under the arm does, the open output is not released while it is
    there, and it is released at the first step where the arm is clear and the pulse is over
    (and then stays off: occupancy alone never raises the arm)."""
    io, clock = MemoryIo(), Clock()
    barrier = controller(io, clock, occupied=InputPin(io, OCCUPIED))
    barrier.open("central")
    opened = clock.now
    released = False
    for occupied, seconds in timeline:
        io.set_input(OCCUPIED, occupied)
        end = clock.now + seconds
        while clock.now < end:
            clock.now = min(end, clock.now + 0.05)
            barrier.step()
            if released:
                assert io.coils[OPEN] is False
            elif occupied or clock.now - opened < 0.5:
                assert io.coils[OPEN] is True
            else:
                assert io.coils[OPEN] is False
                released = True
