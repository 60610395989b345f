"""Prometheus metrics of the gateway, in a registry of its own (several apps per test process).

Counters and histograms are updated where things happen (the consumer); backlog figures that
live in the database (outbox, invoices) are read when Prometheus scrapes, so they are never stale
and cost nothing between scrapes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gateway.gate_health import GateHealth, GateHealthCollector

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.passages = Counter(
            "parking_passages", "Gate events settled", ["direction"], registry=r
        )
        self.decisions = Counter(
            "parking_decisions",
            "Barrier decisions by outcome (open/closed) and reason code",
            ["outcome", "reason"],
            registry=r,
        )
        self.reviews = Counter("parking_reviews", "Passages sent to operator review", registry=r)
        self.duplicates = Counter(
            "parking_duplicate_events", "Gate events seen again (not settled twice)", registry=r
        )
        self.rejected = Counter(
            "parking_rejected_events", "Gate events refused by validation", ["code"], registry=r
        )
        self.failures = Counter(
            "parking_settle_failures", "Settlement attempts that raised", registry=r
        )
        self.plate_read_seconds = Histogram(
            "parking_plate_read_seconds",
            "Plate reading time per event",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decision_seconds = Histogram(
            "parking_decision_seconds",
            "Event received to decision committed",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.commands_published = Counter(
            "parking_barrier_commands", "Barrier commands published", registry=r
        )
        self.gates_online = Gauge(
            "parking_gates_online", "Gates whose retained status says online", ["lot"], registry=r
        )
        self.lpr_pool_restarts = Counter(
            "parking_lpr_pool_restarts",
            "Plate-reader process pools replaced after a worker process died",
            registry=r,
        )
        self.lanes_blocked = Gauge(
            "parking_lanes_blocked",
            "Lanes retrying an event whose settlement failed (the lane waits, in order)",
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "parking_mqtt_connected", "1 while the consumer is connected to the broker", registry=r
        )
        # What the gates report of their unanswered events (per gate, read at scrape time).
        self.gate_health = GateHealth()
        r.register(GateHealthCollector(self.gate_health))

    def add_collector(self, collector: Collector) -> None:
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


class DatabaseCollector(Collector):
    """Outbox backlog and age by kind, and invoices by status, read at scrape time."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        invoice_counts: Callable[[Session], Mapping[str, int]] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._invoice_counts = invoice_counts

    def collect(self) -> Iterable[GaugeMetricFamily]:
        backlog = GaugeMetricFamily(
            "parking_outbox_backlog", "Outbox rows not yet processed", labels=["kind"]
        )
        age = GaugeMetricFamily(
            "parking_outbox_oldest_age_seconds",
            "Age of the oldest unprocessed outbox row",
            labels=["kind"],
        )
        invoices = GaugeMetricFamily("parking_invoices", "Invoices by status", labels=["status"])
        try:
            with self._sessions() as session:
                rows = session.execute(
                    text(
                        "SELECT kind, COUNT(*), MIN(created_at) FROM outbox "
                        "WHERE processed_at IS NULL GROUP BY kind"
                    )
                ).all()
                now = datetime.now(UTC)
                # The kinds a dashboard always plots: zero when nothing waits.
                found = {kind for kind, _, _ in rows}
                for kind in sorted({"barrier_command", "invoice_request"} - found):
                    backlog.add_metric([kind], 0)
                    age.add_metric([kind], 0.0)
                for kind, count, oldest in rows:
                    backlog.add_metric([kind], count)
                    first = _aware(oldest)
                    age.add_metric([kind], (now - first).total_seconds() if first else 0.0)
                if self._invoice_counts is not None:
                    for status, count in self._invoice_counts(session).items():
                        invoices.add_metric([status], count)
        except Exception as exc:  # a scrape must not fail because a table is not there yet
            log.warning("metrics: database figures unavailable: %s", exc)
        yield backlog
        yield age
        yield invoices
