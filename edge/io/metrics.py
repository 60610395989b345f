"""Prometheus counters of the gate's I/O, in a registry of their own.

Bad input at the edge (a corrupt frame, a camera that went away, an I/O module that does not
answer) must be visible to the operator without reading logs: each is counted here by lane or
device and reason. The edge process serves the registry; tests and ``parking edge check`` read
the counts back with :meth:`IoMetrics.count`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class IoMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.camera_frames = Counter(
            "edge_camera_frames", "JPEG frames delivered by a lane's camera", ["lane"], registry=r
        )
        self.camera_errors = Counter(
            "edge_camera_errors",
            "Camera failures by reason (corrupt, disconnected, stale, timeout, http, empty)",
            ["lane", "reason"],
            registry=r,
        )
        self.camera_reconnects = Counter(
            "edge_camera_reconnects", "Stream (re)connections attempted", ["lane"], registry=r
        )
        self.io_errors = Counter(
            "edge_io_errors",
            "I/O requests that failed, by device and operation",
            ["device", "op"],
            registry=r,
        )
        self.triggers = Counter(
            "edge_vehicle_triggers",
            "Vehicles detected, by trigger kind",
            ["lane", "kind"],
            registry=r,
        )
        self.barrier_opens = Counter(
            "edge_barrier_opens",
            "Barrier opens by reason (central, offline, manual, check, safety)",
            ["lane", "reason"],
            registry=r,
        )
        self.barrier_failures = Counter(
            "edge_barrier_failures",
            "Barrier commands the I/O could not carry out",
            ["lane"],
            registry=r,
        )
        self.barrier_holds = Counter(
            "edge_barrier_holds",
            "Times the arm was kept up because a vehicle was (or might be) under it",
            ["lane"],
            registry=r,
        )

        # Degraded mode (edge.offline, edge.run)
        self.offline_decisions = Counter(
            "edge_offline_decisions",
            "Passages the edge decided alone, by outcome (open, closed) and reason",
            ["lane", "outcome", "reason"],
            registry=r,
        )
        self.allowlist_refused = Counter(
            "edge_allowlist_refused",
            "Allow-lists refused (bad_signature, stale, too_large, malformed, wrong_lot)",
            ["reason"],
            registry=r,
        )
        self.allowlist_age = Gauge(
            "edge_allowlist_age_seconds",
            "Age of the allow-list in use (-1: none)",
            registry=r,
        )
        self.allowlist_plates = Gauge(
            "edge_allowlist_plates", "Plates on the allow-list in use", registry=r
        )
        self.offline_exposure = Gauge(
            "edge_offline_exposure_vnd",
            "Fares deducted locally for exits opened offline the center has not settled yet",
            registry=r,
        )
        self.offline_pending = Gauge(
            "edge_offline_pending",
            "Events decided offline that wait for the center's answer",
            registry=r,
        )

    def count(self, name: str, **labels: str) -> float:
        """The current value of counter ``name`` (without ``_total``) for these labels."""
        value = self.registry.get_sample_value(f"{name}_total", labels)
        return 0.0 if value is None else value

    def gauge(self, name: str) -> float | None:
        """The current value of gauge ``name`` (its callback is run)."""
        return self.registry.get_sample_value(name)
