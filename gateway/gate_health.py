"""What the gates report of themselves, turned into a metric, an alert and a line of gate health.

A gate keeps every event until its decision arrives and resends it meanwhile; its retained
status says how many it has sent without an answer yet (``unanswered``) and how long the oldest
has waited (``oldest_unanswered_s``, measured by the gate when it reported). Events unanswered
for long mean answers are being lost somewhere between the gate and billing (a broker that lost
its queue, a gateway not subscribed, a lane blocked on the database): the operator must hear of
it even though the resends will eventually get every event through. So every status is recorded
here, and:

- Prometheus (read at scrape time): ``parking_gate_unanswered_events{lot,gate}``,
  ``parking_gate_buffered_events{lot,gate}`` and ``parking_gate_oldest_unanswered_seconds``
  (the gate's figure plus the time since its report arrived: no clock of the gate's enters it);
- an alert: a warning log line when a gate's oldest unanswered event has waited longer than
  ``alert_after_s`` (repeated every ``repeat_s`` while it lasts), an info line when it clears;
- :meth:`GateHealth.overdue` for ``/readyz`` and the operator dashboard.

Every consumer subscribes to every gate's status without sharing, so each process of a group
sees the whole picture. Not thread-safe beyond its lock: the consumer records, the API reads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.protocol import GateStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateReport:
    lot_id: str
    gate_id: str
    online: bool
    buffered: int
    unanswered: int | None  # None: the gate does not report it (older firmware, or offline)
    oldest_unanswered_s: float | None
    received: float  # monotonic time the report arrived
    # The gate's edge decides alone (the center did not answer in time), and how many of its
    # offline decisions wait for their settlement (newer edges only; else False / None).
    deciding_offline: bool = False
    offline_pending: int | None = None

    @property
    def lane(self) -> str:
        return f"{self.lot_id}/{self.gate_id}"

    def waited_s(self, now: float) -> float | None:
        """How long the oldest unanswered event has waited by ``now``."""
        if not self.unanswered or self.oldest_unanswered_s is None:
            return None
        return self.oldest_unanswered_s + max(0.0, now - self.received)


@dataclass(frozen=True)
class Overdue:
    """A gate whose oldest unanswered event waited past the alert threshold."""

    lane: str
    unanswered: int
    waited_s: float


class GateHealth:
    def __init__(
        self,
        alert_after_s: float = 30.0,
        *,
        repeat_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.alert_after_s = alert_after_s
        self._repeat_s = repeat_s
        self._clock = clock
        self._lock = threading.Lock()
        self._reports: dict[tuple[str, str], GateReport] = {}
        self._alerted: dict[str, float] = {}  # lane -> when the last warning went out

    def now(self) -> float:
        return self._clock()

    def record(self, status: GateStatus) -> None:
        report = GateReport(
            status.lot_id,
            status.gate_id,
            status.online,
            status.buffered if status.online else 0,
            status.unanswered if status.online else None,
            status.oldest_unanswered_s if status.online else None,
            self._clock(),
            bool(status.online and status.deciding_offline),
            status.offline_pending if status.online else None,
        )
        with self._lock:
            self._reports[(status.lot_id, status.gate_id)] = report
        # This gate's alert only: a report changes no other gate's wait, and checking every
        # gate on every status (a few per passage) cost the consumer's loop O(gates) each time
        # at 200 gates. The others are checked by check(), which the consumer calls every few
        # seconds.
        self._check_lanes([report], self._clock(), every_lane=False)

    def reports(self) -> list[GateReport]:
        with self._lock:
            return sorted(self._reports.values(), key=lambda r: (r.lot_id, r.gate_id))

    def report(self, lot_id: str, gate_id: str) -> GateReport | None:
        with self._lock:
            return self._reports.get((lot_id, gate_id))

    def lots_offline(self) -> list[str]:
        """Lots with a gate whose edge is deciding alone now."""
        with self._lock:
            return sorted({r.lot_id for r in self._reports.values() if r.deciding_offline})

    def overdue(self) -> list[Overdue]:
        return self._overdue(self.reports(), self._clock())

    def _overdue(self, reports: Iterable[GateReport], now: float) -> list[Overdue]:
        found = []
        for r in reports:
            waited = r.waited_s(now)
            if r.unanswered and waited is not None and waited >= self.alert_after_s:
                found.append(Overdue(r.lane, r.unanswered, round(waited, 1)))
        return found

    def check(self) -> None:
        """Log the alert for gates newly (or still, every ``repeat_s``) overdue, and say so when
        a gate's events are answered again."""
        self._check_lanes(self.reports(), self._clock(), every_lane=True)

    def _check_lanes(self, reports: list[GateReport], now: float, *, every_lane: bool) -> None:
        """``check`` over ``reports``; ``every_lane``: they are all the gates' reports (a lane
        alerted before and absent from them is answered again)."""
        overdue = {o.lane: o for o in self._overdue(reports, now)}
        checked = {r.lane for r in reports}
        with self._lock:
            for lane, o in overdue.items():
                last = self._alerted.get(lane)
                if last is None or now - last >= self._repeat_s:
                    self._alerted[lane] = now
                    log.warning(
                        "gate %s has %d events without a decision, the oldest for %.0fs (alert "
                        "after %.0fs): answers are being lost or held up between the gate and "
                        "billing; the gate keeps resending them",
                        lane,
                        o.unanswered,
                        o.waited_s,
                        self.alert_after_s,
                    )
            cleared = [
                lane
                for lane in self._alerted
                if lane not in overdue and (every_lane or lane in checked)
            ]
            for lane in cleared:
                del self._alerted[lane]
                log.info("gate %s: no events waiting past the alert any more", lane)


class GateHealthCollector(Collector):
    """The per-gate figures of a :class:`GateHealth`, computed when Prometheus scrapes."""

    def __init__(self, health: GateHealth) -> None:
        self._health = health

    def collect(self) -> Iterable[GaugeMetricFamily]:
        labels = ["lot", "gate"]
        unanswered = GaugeMetricFamily(
            "parking_gate_unanswered_events",
            "Events a gate has sent and still waits a decision for (it resends them)",
            labels=labels,
        )
        buffered = GaugeMetricFamily(
            "parking_gate_buffered_events",
            "Events a gate has captured and not yet got acknowledged by the broker",
            labels=labels,
        )
        oldest = GaugeMetricFamily(
            "parking_gate_oldest_unanswered_seconds",
            "How long a gate's oldest unanswered event has waited for its decision",
            labels=labels,
        )
        now = self._health.now()
        for r in self._health.reports():
            key = [r.lot_id, r.gate_id]
            buffered.add_metric(key, r.buffered)
            if r.unanswered is not None:
                unanswered.add_metric(key, r.unanswered)
                oldest.add_metric(key, r.waited_s(now) or 0.0)
        yield unanswered
        yield buffered
        yield oldest
