"""``parking edge run``: one process serves the lanes of one lot.

Per lane: the trigger is polled; a vehicle's frames become an event in the lane's buffer
(``edge.lane``), which sends it until the center's decision arrives; a fresh decision moves the
barrier and writes the display. When no decision comes within ``offline.decide_after_s`` (or
at once while the broker is unreachable) the edge decides itself (``edge.offline``): it reads
the plate, checks the signed allow-list and the local credit, opens or keeps closed and says
why; the event then goes up with ``decided_offline`` and billing settles it when the link is
back.

The allow-list arrives retained on ``lots/{lot}/allowlist`` through the first lane's link; it is
verified, kept on disk, and every refusal is logged and counted. Metrics (``edge_*``) are served
on ``metrics_port`` when set. SIGINT/SIGTERM end the process within seconds: every thread here
stops on one event, and the I/O is released (the barrier is never left driven down).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.allowlist import Allowlist, AllowlistRefused, AllowlistStore, load_public_key
from edge.config import EdgeConfig
from edge.fit import CaptureRefused
from edge.io.build import GateIo, LaneIo, build_io
from edge.io.camera import CameraError
from edge.io.metrics import IoMetrics
from edge.lane import Lane, LaneConfig
from edge.offline import CreditLedger, OfflineDecider, ReadFn
from edge.supervisor import Supervised
from gateway.protocol import BarrierCommand, GateEvent

log = logging.getLogger(__name__)

TRIGGER_POLL_S = 0.05
CAMERA_FAILED_DISPLAY = "Vui lòng chờ nhân viên / Please wait for staff"


@dataclass(frozen=True)
class Passage:
    """What happened to one vehicle at a lane (for the bench and tests)."""

    event_id: str
    decided_by: str  # "center", "offline" or "nobody" (still waiting, no offline policy)
    open: bool
    reason: str
    waited_s: float


class LaneRunner:
    """One lane: trigger -> capture -> decision (the center's, or the edge's own)."""

    def __init__(
        self,
        lane: Lane,
        io: LaneIo,
        decider: OfflineDecider | None,
        *,
        decide_after_s: float,
        metrics: IoMetrics,
        camera_text: bool = False,
        read_attempts: int = 3,
    ) -> None:
        self.lane = lane
        # The camera reads plates itself and its text goes into the event (the simulator's
        # cameras, which draw the plate they are given).
        self.camera_text = camera_text
        self.read_attempts = read_attempts
        self.io = io
        self.decider = decider
        self.decide_after_s = decide_after_s
        self.metrics = metrics
        self.passages: list[Passage] = []

    def on_command(self, command: BarrierCommand) -> None:
        """A fresh central decision (the lane does not call this for an event the edge opened)."""
        if command.open:
            self.io.barrier.open("central", command.reason, event_id=command.event_id)
        self.io.display.show(command.display)

    def step(self, stop: threading.Event) -> None:
        if self.io.trigger.poll():
            self.vehicle()
        else:
            stop.wait(TRIGGER_POLL_S)

    def vehicle(
        self, plate_text: str | None = None, *, captured_at: datetime | None = None
    ) -> Passage | None:
        """A vehicle arrived: capture it and see it decided. None when nothing could be
        captured (logged and counted; the lane goes on with the next vehicle).
        ``plate_text`` and ``captured_at``: for simulated cameras and time (tests, bench)."""
        started = time.monotonic()
        try:
            event = self.lane.capture(
                plate_text, camera_text=self.camera_text, captured_at=captured_at
            )
        except (CaptureRefused, CameraError) as exc:
            self.metrics.camera_errors.labels(self.io.gate_id, "capture").inc()
            log.error("lane %s: vehicle not captured (%s)", self.io.gate_id, exc)
            self.io.display.show(CAMERA_FAILED_DISPLAY)
            return None
        passage = self.decide(event, started, plate_text)
        self.passages.append(passage)
        return passage

    def read_key(self, event: GateEvent, plate_text: str | None) -> str | None:
        """The plate, read surely from the event's frames or, failing that, from fresh
        pictures (the car is still at the barrier): ``read_attempts`` reads at most."""
        assert self.decider is not None
        key = self.decider.read_key(event.frames, event.plate_crop)
        camera = self.lane.camera
        for attempt in range(1, self.read_attempts):
            if key is not None or camera is None:
                break
            log.info("lane %s: plate not read surely; new pictures (%d)", self.io.gate_id, attempt)
            try:
                frames, crop = camera.capture(plate_text)
            except CameraError as exc:
                self.metrics.camera_errors.labels(self.io.gate_id, "capture").inc()
                log.error("lane %s: no new pictures (%s)", self.io.gate_id, exc)
                break
            key = self.decider.read_key(frames, crop)
        return key

    def decide(self, event: GateEvent, started: float, plate_text: str | None = None) -> Passage:
        event_id = event.event_id
        if self.lane.connected:
            answer = self.lane.wait_command(event_id, self.decide_after_s)
            if answer is not None:
                return Passage(
                    event_id, "center", answer.open, answer.reason, time.monotonic() - started
                )
        if self.decider is None:
            log.warning(
                "lane %s: no decision in time and no offline policy: the vehicle waits",
                self.io.gate_id,
                extra={"event_id": event_id},
            )
            return Passage(event_id, "nobody", False, "", time.monotonic() - started)
        key = self.read_key(event, plate_text)
        with self.decider.lock:
            proposal = self.decider.propose(event.direction, key, event_id)
            if not self.lane.claim_offline(event_id, proposal.decision):
                answer = self.lane.decision(event_id)
                return Passage(
                    event_id,
                    "center",
                    bool(answer and answer.open),
                    answer.reason if answer else "",
                    time.monotonic() - started,
                )
            self.decider.commit(proposal, event_id)
        d = proposal.decision
        self.lane.record_offline(event_id, d)
        self.metrics.offline_decisions.labels(
            self.io.gate_id, "open" if d.open else "closed", d.reason
        ).inc()
        log.warning(
            "lane %s decided OFFLINE: %s (%s, plate %s, credit %s, fare %s)",
            self.io.gate_id,
            "OPEN" if d.open else "CLOSED",
            d.reason,
            d.plate_key or "?",
            d.credit_vnd,
            d.fare_vnd,
            extra={"event_id": event_id},
        )
        if d.open:
            self.io.barrier.open("offline", f"{d.reason} {d.plate_key}", event_id=event_id)
        self.io.display.show(proposal.display)
        return Passage(event_id, "offline", d.open, d.reason, time.monotonic() - started)


class EdgeProcess:
    """The lanes of one lot, their I/O, the allow-list and the offline decider."""

    def __init__(
        self,
        config: EdgeConfig,
        *,
        io: GateIo | None = None,
        read: ReadFn | None = None,
        metrics: IoMetrics | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or (io.metrics if io is not None else IoMetrics())
        self.io = io or build_io(config, self.metrics)
        self.stopping = threading.Event()
        data = config.data_dir
        policy = config.offline
        self.store: AllowlistStore | None = None
        self.decider: OfflineDecider | None = None
        self.ledger = CreditLedger(data / "offline-credit.json")
        if policy.enabled and policy.allowlist_public_key:
            self.store = AllowlistStore(
                data / "allowlist.json", load_public_key(policy.allowlist_public_key), config.lot_id
            )
            self.decider = OfflineDecider(
                lambda: self.store.current if self.store else None,
                self.ledger,
                read,
                max_age_s=policy.allowlist_max_age_s,
            )
        elif policy.enabled:
            log.warning(
                "offline.allowlist_public_key is not set: this edge never opens on its own; "
                "every vehicle waits for the center"
            )
        self.runners: dict[str, LaneRunner] = {}
        self.lanes: dict[str, Lane] = {}
        for i, lane_cfg in enumerate(config.lanes):
            gate_id = lane_cfg.gate_id
            lane = Lane(
                self._lane_config(gate_id, lane_cfg.direction, lane_cfg, data),
                camera=self.io.lanes[gate_id].camera,
                on_command=lambda c, g=gate_id: self.runners[g].on_command(c),  # type: ignore[misc]
                on_answered=self.ledger.answered,
                on_allowlist=self.offer_allowlist if i == 0 and self.store else None,
            )
            self.lanes[gate_id] = lane
            self.runners[gate_id] = LaneRunner(
                lane,
                self.io.lanes[gate_id],
                self.decider,
                decide_after_s=policy.decide_after_s,
                metrics=self.metrics,
                read_attempts=policy.read_attempts,
            )
        self._threads: list[Supervised] = []
        self._http: Any = None
        m = self.metrics
        m.allowlist_age.set_function(self._allowlist_age)
        m.allowlist_plates.set_function(
            lambda: len(self.store.current.credits) if self.store and self.store.current else 0
        )
        m.offline_exposure.set_function(self.ledger.exposure_vnd)
        m.offline_pending.set_function(
            lambda: sum(len(lane.offline_pending()) for lane in self.lanes.values())
        )

    def _lane_config(self, gate_id: str, direction: Any, lane_cfg: Any, data: Path) -> LaneConfig:
        b = self.config.broker
        return LaneConfig(
            lot_id=self.config.lot_id,
            gate_id=gate_id,
            direction=direction,
            buffer_path=data / "buffers" / f"{gate_id}.sqlite",
            host=b.host,
            port=b.port,
            username=lane_cfg.username,
            password=lane_cfg.password,
            keepalive=b.keepalive_s,
            tls=b.tls,
            tls_ca_file=b.ca_file,
            tls_certfile=b.certfile,
            tls_keyfile=b.keyfile,
        )

    def _allowlist_age(self) -> float:
        current = self.store.current if self.store else None
        return -1.0 if current is None else current.age_s()

    # --- the allow-list ---------------------------------------------------------------------

    def offer_allowlist(self, payload: bytes) -> Allowlist | None:
        """A retained allow-list message: kept if valid and newer, else logged and counted."""
        if self.store is None:
            return None
        try:
            taken = self.store.offer(payload)
        except AllowlistRefused as exc:
            log.error("allow-list refused (%s); keeping the one in use", exc)
            self.metrics.allowlist_refused.labels(exc.code).inc()  # after the line: it is read
            return None
        if taken is not None:
            dropped = self.ledger.new_allowlist(taken)
            log.info(
                "allow-list version %d: %d plates, max fare %d VND, cap %d VND "
                "(%d local deductions now reflected in it)",
                taken.version,
                len(taken.credits),
                taken.max_fare_vnd,
                taken.cap_vnd,
                dropped,
            )
        return taken

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, *, triggers: bool = True, wait_s: float = 0.0) -> None:
        """Start I/O, links and (unless ``triggers`` is False: a bench drives the lanes)
        one trigger thread per lane."""
        self.io.start()
        for lane in self.lanes.values():
            lane.start(wait_s=0)
        if triggers:
            for gate_id, runner in self.runners.items():
                thread = Supervised(
                    f"lane-{gate_id}",
                    lambda r=runner: r.step(self.stopping),  # type: ignore[misc]
                    self.stopping,
                )
                thread.start()
                self._threads.append(thread)
        port = self.config.metrics_port
        if port:
            from prometheus_client import start_http_server

            self._http, _ = start_http_server(
                port, addr="127.0.0.1", registry=self.metrics.registry
            )
        if wait_s:
            deadline = time.monotonic() + wait_s
            for lane in self.lanes.values():
                while not lane.connected and time.monotonic() < deadline:
                    time.sleep(0.05)
        log.info(
            "edge of lot %s running: %d lanes, offline decisions %s",
            self.config.lot_id,
            len(self.lanes),
            "on" if self.decider else "off",
        )

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=3)
        for lane in self.lanes.values():
            lane.stop()
        self.io.close()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        log.info("edge of lot %s stopped", self.config.lot_id)


def default_reader(config: EdgeConfig) -> ReadFn:
    """lpr's reader (warmed up), one read at a time across the lanes."""
    from edge.reader import plate_reader

    reader = plate_reader(config.reader)
    lock = threading.Lock()

    def read(frames: Sequence[bytes], crop: bytes | None) -> Any:
        with lock:
            return reader.read(list(frames), enough=0.95)  # the crop is a JPEG, not a box

    return read


def run(
    config: EdgeConfig, stop: threading.Event, *, on_ready: Callable[[], None] | None = None
) -> None:
    """Serve until ``stop`` is set (the CLI sets it on SIGINT/SIGTERM)."""
    read = default_reader(config) if config.offline.enabled else None
    process = EdgeProcess(config, read=read)
    process.start()
    if on_ready is not None:
        on_ready()
    try:
        stop.wait()
    finally:
        process.stop()
