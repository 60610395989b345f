"""Traffic for simulated lots: arrivals with rush hours, realistic stays, a mixed population.

Time is compressed: the simulated clock runs ``time_scale`` times faster than the wall clock and
is placed so that it never runs ahead of real time (it starts ``span`` in the past), so gate
events carry plausible capture times (a two-hour stay is priced as two hours) yet nothing is
dated in the future. Arrivals follow a Poisson process whose rate follows the hour of the
simulated day (morning and evening rush, quiet nights); stays are log-normal with a median that
depends on the lot kind and the vehicle.

The population mixes registered vehicles (accounts with money), low-balance ones and unknown
plates, as the operator's policies must handle all three. The traffic drives the edge's lanes
(``edge.lane``, its public API) and only their MQTT traffic reaches the system; the summary
counts what the gates saw (barrier opened or kept closed, and why) and, given a lookup (e.g.
:class:`simulator.operator_api.OperatorApi`), which passages the system sent to its review
queue: a barrier command does not carry that.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from edge.lane import Lane

log = logging.getLogger(__name__)
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")

VehicleKind = Literal["registered", "low_balance", "unknown"]
#: Given event ids, those whose passage went to the review queue.
ReviewLookup = Callable[[Collection[str]], Collection[str]]

# The least time a car spends on the road between leaving a lot and arriving at the next.
MIN_AWAY = timedelta(minutes=5)
# How long a car still waiting at an entry barrier is looked at again before it may leave.
WAIT_AT_BARRIER = timedelta(seconds=30)

# Relative arrival rate by local hour: quiet nights, 7-9 and 17-19 rush hours.
HOURLY_PROFILE = (
    0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 1.8, 2.0, 1.2, 0.9, 1.0,
    1.1, 1.0, 0.9, 1.0, 1.3, 1.9, 2.0, 1.4, 0.9, 0.6, 0.4, 0.2,
)  # fmt: skip


@dataclass(frozen=True)
class Vehicle:
    plate: str
    kind: VehicleKind
    motorbike: bool = False


@dataclass
class LotGates:
    lot_id: str
    entries: Sequence[Lane]
    exits: Sequence[Lane]
    median_stay_min: float = 60.0  # an airport lot: longer; a street lot: shorter


@dataclass
class TrafficConfig:
    arrivals_per_hour: float = 600.0  # simulated hours, at profile 1.0, over all lots
    time_scale: float = 120.0  # simulated seconds per real second
    span: timedelta = timedelta(hours=2)  # how far in the past the simulated clock starts
    camera_text: bool = False  # cameras send their own plate text (no LPR at the gateway)
    seed: int = 7
    max_parked: int = 400


def _key(plate: str) -> str:
    """Letters and digits only: how plates compare (``30A-123.45`` = ``30A12345``)."""
    return "".join(c for c in plate.upper() if c.isalnum())


@dataclass
class TrafficSummary:
    arrivals: int = 0
    entries: int = 0
    exits: int = 0
    events: int = 0
    commands: int = 0
    barrier_opens: int = 0
    barrier_closed: int = 0
    unanswered: int = 0
    reviews: int | None = None  # None: not observed (no lookup given, or it failed)
    by_reason: Counter[str] = field(default_factory=Counter)
    closed_by_reason: Counter[str] = field(default_factory=Counter)
    by_vehicle_kind: Counter[str] = field(default_factory=Counter)
    revenue_vnd: int = 0
    # "No stopping" (issue 16): passages of registered cars with enough balance, and how many
    # of them opened without a person; exits charged under another plate than the car's own.
    no_stop_passages: int = 0
    no_stop_opened: int = 0
    wrong_charges: int = 0
    no_stop_missed: Counter[str] = field(default_factory=Counter)  # by reason ("+review")

    @property
    def no_stop_share(self) -> float | None:
        if not self.no_stop_passages:
            return None
        return round(self.no_stop_opened / self.no_stop_passages, 4)

    def as_dict(self) -> dict[str, object]:
        return {
            "arrivals": self.arrivals,
            "entries": self.entries,
            "exits": self.exits,
            "events": self.events,
            "commands": self.commands,
            "barrier_opens": self.barrier_opens,
            "barrier_closed": self.barrier_closed,
            "unanswered": self.unanswered,
            "reviews": self.reviews,
            "by_reason": dict(self.by_reason),
            "closed_by_reason": dict(self.closed_by_reason),
            "by_vehicle_kind": dict(self.by_vehicle_kind),
            "revenue_vnd": self.revenue_vnd,
            "no_stop_passages": self.no_stop_passages,
            "no_stop_share": self.no_stop_share,
            "wrong_charges": self.wrong_charges,
            "no_stop_missed": dict(self.no_stop_missed),
        }


class Traffic:
    def __init__(
        self, lots: Sequence[LotGates], population: Sequence[Vehicle], cfg: TrafficConfig
    ) -> None:
        if not lots or not population:
            raise ValueError("traffic needs at least one lot and one vehicle")
        self.lots = list(lots)
        self.population = list(population)
        self.cfg = cfg
        self._rng = random.Random(cfg.seed)
        self._parked: set[str] = set()
        # A car that drove out is on the road: it cannot be at any entry before its exit's
        # barrier opened (the decision arrived) and a few minutes of driving went by. Without
        # this, time compression let a car re-enter a lot before its exit was settled.
        self._gone: dict[str, tuple[Lane, str, datetime]] = {}
        # Likewise a car leaves only after its entry barrier opened (its entry was answered).
        self._entered: dict[str, tuple[Lane, str]] = {}
        self._events: list[tuple[Lane, str, Vehicle]] = []
        self._queue: list[tuple[datetime, int, str, Vehicle, LotGates]] = []
        self._tie = itertools.count()
        self._t0 = 0.0
        self._sim0 = datetime.now(LOCAL)

    # --- the simulated clock -----------------------------------------------------------------

    def sim_now(self) -> datetime:
        elapsed = (time.monotonic() - self._t0) * self.cfg.time_scale
        sim = self._sim0 + timedelta(seconds=elapsed)
        return min(sim, datetime.now(LOCAL))

    def _to_wall(self, sim: datetime) -> float:
        return self._t0 + (sim - self._sim0).total_seconds() / self.cfg.time_scale

    def _rate_per_sim_second(self, at: datetime) -> float:
        return self.cfg.arrivals_per_hour * HOURLY_PROFILE[at.hour] / 3600.0

    def _next_arrival(self, after: datetime) -> datetime:
        # Thinning (Lewis-Shedler) for a rate that changes by the hour.
        peak = self.cfg.arrivals_per_hour * max(HOURLY_PROFILE) / 3600.0
        t = after
        while True:
            t += timedelta(seconds=self._rng.expovariate(peak))
            if self._rng.random() <= self._rate_per_sim_second(t) / peak:
                return t

    def _stay(self, lot: LotGates, vehicle: Vehicle) -> timedelta:
        median = lot.median_stay_min * (0.6 if vehicle.motorbike else 1.0)
        minutes = self._rng.lognormvariate(math.log(median), 0.6)
        return timedelta(minutes=min(max(minutes, 3.0), 12 * 60))

    # --- running -------------------------------------------------------------------------------

    def _schedule(self, at: datetime, action: str, vehicle: Vehicle, lot: LotGates) -> None:
        heapq.heappush(self._queue, (at, next(self._tie), action, vehicle, lot))

    def _pick_vehicle(self, at: datetime) -> Vehicle | None:
        for _ in range(20):
            v = self._rng.choice(self.population)
            if v.plate not in self._parked and self._on_the_road(v.plate, at):
                return v
        return None

    def _on_the_road(self, plate: str, at: datetime) -> bool:
        """True when the car is free to arrive somewhere: its last exit (if any) was answered
        and it left at least MIN_AWAY ago."""
        gone = self._gone.get(plate)
        if gone is None:
            return True
        gate, event_id, left_at = gone
        if gate.decision(event_id) is None or at - left_at < MIN_AWAY:
            return False
        del self._gone[plate]
        return True

    def _fire(self, action: str, vehicle: Vehicle, lot: LotGates, at: datetime) -> None:
        if action == "arrive":
            self._schedule(self._next_arrival(at), "arrive", vehicle, lot)  # keeps the stream
            chosen = self._pick_vehicle(at)
            if chosen is None or len(self._parked) >= self.cfg.max_parked:
                return
            target = self._rng.choice(self.lots)
            self._parked.add(chosen.plate)
            gate = self._rng.choice(target.entries)
            self._entered[chosen.plate] = (gate, self._capture(gate, chosen, at))
            self._schedule(at + self._stay(target, chosen), "leave", chosen, target)
        elif action == "leave":
            gate, entry_id = self._entered[vehicle.plate]
            if gate.decision(entry_id) is None:  # still at the entry barrier: it waits
                self._schedule(at + WAIT_AT_BARRIER, "leave", vehicle, lot)
                return
            del self._entered[vehicle.plate]
            self._parked.discard(vehicle.plate)
            gate = self._rng.choice(lot.exits)
            self._gone[vehicle.plate] = (gate, self._capture(gate, vehicle, at), at)

    def _capture(self, gate: Lane, vehicle: Vehicle, at: datetime) -> str:
        event = gate.capture(
            vehicle.plate,
            camera_text=self.cfg.camera_text,
            plate_confidence=0.97 if self.cfg.camera_text else None,
            captured_at=at,
        )
        self._events.append((gate, event.event_id, vehicle))
        return event.event_id

    def run(self, stop: threading.Event, duration_s: float | None = None) -> None:
        """Generate traffic until ``stop`` is set (or ``duration_s`` of wall time passed)."""
        self._t0 = time.monotonic()
        span = self.cfg.span
        self._sim0 = datetime.now(LOCAL) - span
        first = self._next_arrival(self._sim0)
        self._schedule(first, "arrive", self.population[0], self.lots[0])
        deadline = None if duration_s is None else self._t0 + duration_s
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            at, _, action, vehicle, lot = self._queue[0]
            wait = self._to_wall(at) - time.monotonic()
            if at > datetime.now(LOCAL):
                wait = max(wait, (at - datetime.now(LOCAL)).total_seconds())
            if wait > 0:
                stop.wait(min(wait, 0.5))
                continue
            heapq.heappop(self._queue)
            try:
                self._fire(action, vehicle, lot, at)
            except Exception:
                log.exception("traffic: %s of %s failed", action, vehicle.plate)

    def summary(self, review_lookup: ReviewLookup | None = None) -> TrafficSummary:
        """What the gates saw; with ``review_lookup``, also how many passages went to review."""
        s = TrafficSummary()
        reviewed: set[str] = set()
        if review_lookup is not None:
            answered = [eid for g, eid, _ in self._events if g.decision(eid) is not None]
            try:
                reviewed = set(review_lookup(answered)) & set(answered)
                s.reviews = len(reviewed)
            except Exception as exc:  # the summary still has what the gates saw
                log.warning("traffic: could not count reviews: %s", exc)
        for gate, event_id, vehicle in self._events:
            s.events += 1
            if gate.cfg.direction == "entry":
                s.entries += 1
                s.by_vehicle_kind[vehicle.kind] += 1
            else:
                s.exits += 1
            cmd = gate.decision(event_id)
            if cmd is None:
                s.unanswered += 1
                continue
            s.commands += 1
            s.by_reason[cmd.reason] += 1
            if cmd.open:
                s.barrier_opens += 1
            else:
                s.barrier_closed += 1
                s.closed_by_reason[cmd.reason] += 1
            if gate.cfg.direction == "exit" and cmd.open and cmd.fare_vnd:
                s.revenue_vnd += cmd.fare_vnd
                if cmd.plate and _key(cmd.plate) != _key(vehicle.plate):
                    s.wrong_charges += 1  # the ground truth: this car is not that plate
            if vehicle.kind == "registered":
                s.no_stop_passages += 1
                alone = cmd.open and event_id not in reviewed
                s.no_stop_opened += alone
                if not alone:
                    s.no_stop_missed[cmd.reason + ("" if not cmd.open else "+review")] += 1
        s.arrivals = s.entries
        return s

    def wait_answered(self, timeout: float, stop: threading.Event | None = None) -> int:
        """Wait until every event got its decision (or the timeout, or ``stop``); returns how
        many did not."""
        stop = stop or threading.Event()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stop.is_set():
            missing = self._unanswered()
            if missing == 0:
                return 0
            stop.wait(0.2)
        return self._unanswered()

    def _unanswered(self) -> int:
        return sum(1 for g, eid, _ in self._events if g.decision(eid) is None)


def make_population(
    registered: Sequence[str],
    low_balance: Sequence[str],
    unknown: Sequence[str],
    motorbikes: set[str] | None = None,
) -> list[Vehicle]:
    bikes = motorbikes or set()
    return (
        [Vehicle(p, "registered", p in bikes) for p in registered]
        + [Vehicle(p, "low_balance", p in bikes) for p in low_balance]
        + [Vehicle(p, "unknown", p in bikes) for p in unknown]
    )
