"""The traffic generator against fake gates: plausible, ordered, never in the future."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from edge.lane import Decision
from simulator.traffic import (
    LOCAL,
    LotGates,
    Traffic,
    TrafficConfig,
    make_population,
)


@dataclass
class FakeGate:
    direction: str
    events: list[tuple[str, datetime, bool]] = field(default_factory=list)
    decisions: dict[str, Decision] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cfg = SimpleNamespace(direction=self.direction)

    def decision(self, event_id: str) -> Decision | None:
        return self.decisions.get(event_id)

    def capture(self, plate: str, **kw: Any) -> Any:
        eid = f"e{len(self.events)}-{self.direction}-{plate}"
        self.events.append((plate, kw["captured_at"], kw["camera_text"]))
        fare = 25_000 if self.direction == "exit" else None
        self.decisions[eid] = Decision(eid, True, "ok", plate, fare, 0.0, True)
        return SimpleNamespace(event_id=eid)


def test_vehicles_enter_before_they_leave_and_times_are_plausible() -> None:
    entry, exit_ = FakeGate("entry"), FakeGate("exit")
    pop = make_population(
        [f"30A-{i:03d}.00" for i in range(100, 130)], ["30A-999.01"], ["30A-888.01"]
    )
    traffic = Traffic(
        [LotGates("L1", [entry], [exit_], median_stay_min=20)],  # type: ignore[list-item]
        pop,
        TrafficConfig(arrivals_per_hour=1200, time_scale=900, camera_text=True, seed=3),
    )
    started = datetime.now(LOCAL)
    traffic.run(threading.Event(), duration_s=2.0)
    assert len(entry.events) > 5 and exit_.events
    first_entry: dict[str, datetime] = {}
    for plate, at, camera_text in entry.events:
        assert camera_text
        first_entry.setdefault(plate, at)
    for plate, at, _ in exit_.events:
        assert plate in first_entry and at >= first_entry[plate]
    times = [at for _, at, _ in entry.events]
    assert times == sorted(times)
    assert all(at <= datetime.now(LOCAL) for at in times)
    assert min(times) >= started - TrafficConfig().span - timedelta(seconds=5)
    s = traffic.summary()
    assert s.entries == len(entry.events) and s.exits == len(exit_.events)
    assert s.unanswered == 0 and s.revenue_vnd == 25_000 * len(exit_.events)
    assert sum(s.by_vehicle_kind.values()) == s.entries


def test_rush_hours_bring_more_arrivals_than_the_night() -> None:
    gate = FakeGate("entry")
    traffic = Traffic(
        [LotGates("L1", [gate], [gate])],  # type: ignore[list-item]
        make_population(["30A-100.00"], [], []),
        TrafficConfig(arrivals_per_hour=100, seed=1),
    )
    day = datetime(2026, 11, 23, 0, 0, tzinfo=LOCAL)
    by_hour = [0] * 24
    t = day
    while t < day + timedelta(days=5):
        t = traffic._next_arrival(t)
        by_hour[t.hour] += 1
    assert by_hour[8] > 5 * by_hour[3]
    assert by_hour[18] > 5 * by_hour[2]


@dataclass
class PolicyGate(FakeGate):
    """Keeps the barrier closed for plates it does not know, opens (to review) doubtful ones."""

    unknown: frozenset[str] = frozenset()

    def capture(self, plate: str, **kw: Any) -> Any:
        eid = f"e{len(self.events)}-{self.direction}-{plate}"
        self.events.append((plate, kw["captured_at"], kw["camera_text"]))
        if plate in self.unknown:
            self.decisions[eid] = Decision(eid, False, "unknown_plate", plate, None, 0.0, True)
        else:
            self.decisions[eid] = Decision(eid, True, "entry_ok", plate, None, 0.0, True)
        return SimpleNamespace(event_id=eid)


def _policy_traffic() -> tuple[Traffic, PolicyGate]:
    unknown = frozenset({"30K-777.01", "30K-777.02", "30K-777.03"})
    gate = PolicyGate("entry", unknown=unknown)
    traffic = Traffic(
        [LotGates("L1", [gate], [gate], median_stay_min=600)],  # type: ignore[list-item]
        make_population([f"30A-{i:03d}.00" for i in range(100, 104)], [], sorted(unknown)),
        TrafficConfig(arrivals_per_hour=3000, time_scale=900, camera_text=True, seed=5),
    )
    traffic.run(threading.Event(), duration_s=1.0)
    return traffic, gate


def test_summary_counts_closed_barriers_by_reason_and_reviews_from_a_lookup() -> None:
    traffic, gate = _policy_traffic()
    closed = [eid for eid, cmd in gate.decisions.items() if not cmd.open]
    opened = [eid for eid, cmd in gate.decisions.items() if cmd.open]
    assert closed and opened  # the population mixes unknown and registered plates
    asked: list[set[str]] = []

    def lookup(event_ids: Any) -> set[str]:
        asked.append(set(event_ids))
        return {opened[0], "not-ours"}  # the queue holds other passages too

    s = traffic.summary(lookup)
    assert s.barrier_closed == len(closed) == s.closed_by_reason["unknown_plate"]
    assert s.by_reason["unknown_plate"] == len(closed)
    assert s.reviews == 1 and asked == [set(gate.decisions)]
    d = s.as_dict()
    assert d["reviews"] == 1 and d["closed_by_reason"] == {"unknown_plate": len(closed)}
    assert traffic.summary().reviews is None  # not observed without a lookup


def test_a_failing_review_lookup_leaves_reviews_unknown_not_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    traffic, _ = _policy_traffic()

    def broken(_ids: Any) -> set[str]:
        raise ConnectionError("API down")

    s = traffic.summary(broken)
    assert s.reviews is None and s.commands > 0
    assert "could not count reviews: API down" in caplog.text


@dataclass
class MisreadingGate(FakeGate):
    """An exit that charges one car under another's plate, and keeps one registered car
    closed; entries open."""

    misread: dict[str, str] = field(default_factory=dict)
    closed: frozenset[str] = frozenset()

    def capture(self, plate: str, **kw: Any) -> Any:
        eid = f"e{len(self.events)}-{self.direction}-{plate}"
        self.events.append((plate, kw["captured_at"], kw["camera_text"]))
        if self.direction == "entry":
            self.decisions[eid] = Decision(eid, True, "entry_ok", plate, None, 0.0, True, plate)
        elif plate in self.closed:
            self.decisions[eid] = Decision(eid, False, "low_balance", "", 9, 0.0, True, plate)
        else:
            shown = self.misread.get(plate, plate.replace("-", "").replace(".", ""))
            self.decisions[eid] = Decision(eid, True, "exit_paid", "", 25_000, 0.0, True, shown)
        return SimpleNamespace(event_id=eid)


def test_no_stop_share_and_wrong_charges_against_the_simulated_cars() -> None:
    plates = [f"30A-{i:03d}.00" for i in range(100, 106)]
    entry = MisreadingGate("entry")
    exit_ = MisreadingGate("exit", misread={plates[0]: "30A-100.08"}, closed=frozenset({plates[1]}))
    traffic = Traffic(
        [LotGates("L1", [entry], [exit_], median_stay_min=5)],  # type: ignore[list-item]
        make_population(plates, [], []),
        TrafficConfig(arrivals_per_hour=3000, time_scale=900, camera_text=True, seed=7),
    )
    traffic.run(threading.Event(), duration_s=2.0)
    exits = [p for p, _, _ in exit_.events]
    assert plates[0] in exits and plates[1] in exits  # seed 7: both cars left at least once
    reviewed_entry = next(eid for eid in entry.decisions)

    s = traffic.summary(lambda ids: {reviewed_entry})
    assert s.wrong_charges == exits.count(plates[0])
    assert s.no_stop_passages == len(entry.events) + len(exit_.events)
    closed = exits.count(plates[1])
    assert s.no_stop_opened == s.no_stop_passages - closed - 1  # and one opened to review
    assert s.as_dict()["no_stop_share"] == round(s.no_stop_opened / s.no_stop_passages, 4)


class SilentExit(FakeGate):
    """An exit gate whose barrier never got its answer: the car is still at the barrier."""

    def capture(self, plate: str, **kw: Any) -> Any:
        eid = f"e{len(self.events)}-{self.direction}-{plate}"
        self.events.append((plate, kw["captured_at"], kw["camera_text"]))
        return SimpleNamespace(event_id=eid)


def test_a_car_arrives_again_only_after_its_exit_was_answered_and_it_drove_away() -> None:
    entry, exit_ = FakeGate("entry"), SilentExit("exit")
    traffic = Traffic(
        [LotGates("L1", [entry], [exit_], median_stay_min=5)],  # type: ignore[list-item]
        make_population(["30A-100.00", "30A-101.00"], [], []),
        TrafficConfig(arrivals_per_hour=3000, time_scale=900, camera_text=True, seed=5),
    )
    traffic.run(threading.Event(), duration_s=2.0)
    left = {plate for plate, _, _ in exit_.events}
    assert left  # cars did leave, and none of them came back: their exits are unanswered
    for plate in left:
        last_exit = max(at for p, at, _ in exit_.events if p == plate)
        assert all(at < last_exit for p, at, _ in entry.events if p == plate)


def test_an_answered_exit_frees_the_car_after_it_has_been_away() -> None:
    from simulator.traffic import MIN_AWAY

    entry, exit_ = FakeGate("entry"), FakeGate("exit")
    traffic = Traffic(
        [LotGates("L1", [entry], [exit_], median_stay_min=5)],  # type: ignore[list-item]
        make_population(["30A-100.00"], [], []),
        TrafficConfig(arrivals_per_hour=3000, time_scale=900, camera_text=True, seed=5),
    )
    traffic.run(threading.Event(), duration_s=2.0)
    entries = sorted(at for _, at, _ in entry.events)
    exits = sorted(at for _, at, _ in exit_.events)
    assert len(entries) >= 2  # the one car came back
    for exit_at, next_entry in zip(exits, entries[1:], strict=False):
        assert next_entry - exit_at >= MIN_AWAY


class SilentEntry(FakeGate):
    """An entry gate that never answered: every car is still waiting at its barrier."""

    def capture(self, plate: str, **kw: Any) -> Any:
        eid = f"e{len(self.events)}-{self.direction}-{plate}"
        self.events.append((plate, kw["captured_at"], kw["camera_text"]))
        return SimpleNamespace(event_id=eid)


def test_a_car_leaves_only_after_its_entry_was_answered() -> None:
    entry, exit_ = SilentEntry("entry"), FakeGate("exit")
    traffic = Traffic(
        [LotGates("L1", [entry], [exit_], median_stay_min=5)],  # type: ignore[list-item]
        make_population([f"30A-{i:03d}.00" for i in range(100, 110)], [], []),
        TrafficConfig(arrivals_per_hour=3000, time_scale=900, camera_text=True, seed=5),
    )
    traffic.run(threading.Event(), duration_s=2.0)
    assert entry.events and not exit_.events
