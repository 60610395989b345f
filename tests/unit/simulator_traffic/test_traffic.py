"""The traffic generator against fake gates: plausible, ordered, never in the future."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from simulator.gate_agent import AppliedCommand
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
    commands: dict[str, AppliedCommand] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cfg = SimpleNamespace(direction=self.direction)

    def capture(self, plate: str, **kw: Any) -> Any:
        eid = f"e{len(self.events)}-{self.direction}-{plate}"
        self.events.append((plate, kw["captured_at"], kw["camera_text"]))
        fare = 25_000 if self.direction == "exit" else None
        self.commands[eid] = AppliedCommand(eid, True, "ok", plate, fare, 0.0)
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
