"""Vehicle triggers: one event per vehicle, from a loop input or from the image."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.io.memory import MemoryIo
from edge.io.metrics import IoMetrics
from edge.io.points import InputPin, IoError
from edge.io.triggers import LoopTrigger, MotionTrigger


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class DeadInput:
    def read(self) -> bool:
        raise IoError("no answer")


def loop_events(levels: list[tuple[bool, float]], debounce_s: float = 0.1) -> int:
    """Events for a timeline of (loop level, seconds held), polled every 10 ms."""
    clock, io = Clock(), MemoryIo()
    trigger = LoopTrigger("g1", InputPin(io, 0), debounce_s=debounce_s, clock=clock)
    events = 0
    for level, seconds in levels:
        io.set_input(0, level)
        end = clock.now + seconds
        while clock.now < end - 1e-9:
            clock.now = round(clock.now + 0.01, 6)
            events += trigger.poll()
    return events


def test_a_car_on_the_loop_is_one_event_however_long_it_stays() -> None:
    assert loop_events([(False, 1), (True, 30), (False, 1)]) == 1


def test_contact_bounce_shorter_than_the_debounce_is_no_car() -> None:
    bounce = [(True, 0.03), (False, 0.02)] * 10
    assert loop_events([(False, 0.5), *bounce, (False, 1)]) == 0


def test_bounce_at_arrival_and_departure_still_makes_one_event() -> None:
    bounce = [(True, 0.02), (False, 0.02)] * 3
    assert loop_events([*bounce, (True, 2), *bounce, (False, 1)]) == 1


def test_two_cars_are_two_events() -> None:
    assert loop_events([(True, 1), (False, 1), (True, 1), (False, 1)]) == 2


def test_a_car_already_on_the_loop_at_start_is_an_event() -> None:
    assert loop_events([(True, 0.5)]) == 1


def test_a_loop_input_that_cannot_be_read_is_no_car() -> None:
    trigger = LoopTrigger("g1", DeadInput(), debounce_s=0.0)
    assert trigger.poll() is False


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0.01, 0.5)), max_size=40))
def test_events_are_the_debounced_arrivals(levels: list[tuple[bool, float]]) -> None:
    """Events = runs of "on" held at least the debounce time that follow an "off" held at least
    the debounce time (or the start), never more."""
    merged: list[tuple[bool, float]] = []
    for level, seconds in levels:
        if merged and merged[-1][0] == level:
            merged[-1] = (level, merged[-1][1] + seconds)
        else:
            merged.append((level, seconds))
    expected, armed = 0, True
    for level, held_s in merged:
        held = held_s >= 0.1 + 0.011  # polls every 10 ms
        if level and armed and held:
            expected, armed = expected + 1, False
        elif not level and held:
            armed = True
    # a run within one poll of the debounce time may go either way
    near = sum(1 for _, s in merged if 0.1 - 0.011 <= s < 0.1 + 0.011)
    assert expected - near <= loop_events(levels) <= expected + near


class Feed:
    """Frames of a 320x240 lane: grey road, a dark car box when ``car`` is set."""

    def __init__(self) -> None:
        self.t = 0.0
        self.car: tuple[int, int] | None = None  # x offset of the car, width
        self.brightness = 110
        self.rng = np.random.default_rng(1)

    def frame(self) -> np.ndarray:
        img = np.full((240, 320, 3), self.brightness, np.uint8)
        img[100:104, :] = 200  # a lane marking
        noise = self.rng.integers(-6, 7, img.shape)
        img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        if self.car is not None:
            x, w = self.car
            img[80:200, x : x + w] = (30, 30, 40)
            img[120:130, x + 10 : x + w - 10] = (220, 220, 220)  # the plate
        return img

    def latest_image(self) -> tuple[np.ndarray, float]:
        return self.frame(), self.t


def run(trigger: MotionTrigger, feed: Feed, clock: Clock, seconds: float) -> int:
    events = 0
    end = clock.now + seconds
    while clock.now < end - 1e-9:
        clock.now = round(clock.now + 0.04, 6)  # 25 fps
        feed.t = clock.now
        events += trigger.poll()
    return events


def motion(feed: Feed, clock: Clock, **kw: float) -> MotionTrigger:
    return MotionTrigger(
        "g1",
        feed,
        region=(0.25, 0.2, 0.5, 0.7),
        threshold=0.12,
        cooldown_s=kw.get("cooldown_s", 3.0),
        clear_s=1.0,
        metrics=IoMetrics(),
        clock=clock,
    )


def test_a_car_that_stops_at_the_barrier_and_drives_on_is_one_event() -> None:
    feed, clock = Feed(), Clock()
    trigger = motion(feed, clock)
    assert run(trigger, feed, clock, 3) == 0  # the empty lane is learnt
    events = 0
    for x in range(0, 140, 10):  # drives in
        feed.car = (x, 120)
        events += run(trigger, feed, clock, 0.08)
    events += run(trigger, feed, clock, 8)  # waits at the barrier
    for x in range(140, 320, 10):  # drives on, out of the region
        feed.car = (x, 120)
        events += run(trigger, feed, clock, 0.08)
    feed.car = None
    events += run(trigger, feed, clock, 2)
    assert events == 1
    assert trigger.metrics.count("edge_vehicle_triggers", lane="g1", kind="motion") == 1


def test_the_next_car_after_the_region_cleared_is_another_event() -> None:
    feed, clock = Feed(), Clock()
    trigger = motion(feed, clock)
    run(trigger, feed, clock, 2)
    feed.car = (100, 120)
    assert run(trigger, feed, clock, 2) == 1
    feed.car = None
    assert run(trigger, feed, clock, 3) == 0
    feed.car = (110, 110)
    assert run(trigger, feed, clock, 2) == 1


def test_cooldown_keeps_a_quick_second_change_from_counting() -> None:
    feed, clock = Feed(), Clock()
    trigger = motion(feed, clock, cooldown_s=10)
    run(trigger, feed, clock, 2)
    feed.car = (100, 120)
    assert run(trigger, feed, clock, 1) == 1
    feed.car = None
    run(trigger, feed, clock, 1.5)  # clear long enough to re-arm, but within the cooldown
    feed.car = (100, 120)
    assert run(trigger, feed, clock, 2) == 0
    feed.car = None
    run(trigger, feed, clock, 8)
    feed.car = (100, 120)
    assert run(trigger, feed, clock, 2) == 1


def test_a_change_of_light_over_the_whole_image_is_no_vehicle() -> None:
    feed, clock = Feed(), Clock()
    trigger = motion(feed, clock)
    run(trigger, feed, clock, 2)
    feed.brightness = 170  # a cloud passes, headlights, the street lamps come on
    assert run(trigger, feed, clock, 3) == 0
    feed.brightness = 60
    assert run(trigger, feed, clock, 3) == 0


def test_no_new_frame_is_no_new_decision() -> None:
    feed, clock = Feed(), Clock()
    trigger = motion(feed, clock)
    run(trigger, feed, clock, 1)
    feed.car, feed.t = (100, 120), -1.0
    assert trigger.poll() is True
    seen = trigger.presence.share
    feed.car = None  # the stream stalled: polls get the frame with the same time again
    for _ in range(10):
        clock.now += 0.04
        assert trigger.poll() is False
    assert trigger.presence.share == seen


def test_a_region_that_flickers_while_a_car_leaves_does_not_re_arm() -> None:
    """A motorbike weaving at the region's edge, a car half out: the region looks empty for a
    moment and then not; only an empty region for clear_s re-arms the trigger."""
    feed, clock = Feed(), Clock()
    trigger = motion(feed, clock)
    run(trigger, feed, clock, 2)
    feed.car = (100, 120)
    assert run(trigger, feed, clock, 4) == 1  # past the cooldown
    events = 0
    for _ in range(8):
        feed.car = None
        events += run(trigger, feed, clock, 0.2)
        feed.car = (100, 120)
        events += run(trigger, feed, clock, 0.2)
    assert events == 0
