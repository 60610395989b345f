"""Operational endpoints: ``/metrics`` (Prometheus), ``/livez`` and ``/readyz``.

Liveness says only that the process answers; readiness says it can do its job: the database
answers and, in a process that runs the consumer, the consumer is connected to the broker, no
lane is blocked retrying a failed settlement and the plate-reader pool is running. An
orchestrator restarts on the first and only routes traffic on the second.

The router reads what it needs from ``app.state``: the composition root's container (its
``metrics`` and ``consumer``) when there is one, else the app's session factory alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.metrics import DatabaseCollector, Metrics

log = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])


def invoice_counts(session: Session) -> Mapping[str, int]:
    """Invoices by status (einvoice's table), or nothing when invoicing is not installed."""
    from einvoice.db import invoices

    rows = session.execute(
        select(invoices.c.status, func.count()).group_by(invoices.c.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


def metrics_for(request: Request) -> Metrics:
    container = getattr(request.app.state, "container", None)
    metrics: Metrics | None = getattr(container, "metrics", None)
    if metrics is not None:
        return metrics
    metrics = getattr(request.app.state, "ops_metrics", None)
    if metrics is None:
        metrics = Metrics()
        metrics.add_collector(DatabaseCollector(request.app.state.session_factory, invoice_counts))
        request.app.state.ops_metrics = metrics
    return metrics


@router.get("/metrics", include_in_schema=False)
def metrics_endpoint(request: Request) -> Response:
    return Response(metrics_for(request).render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/livez", include_in_schema=False)
def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
def readyz(request: Request) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with request.app.state.session_factory() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readiness: database check failed: %s", exc)
        checks["database"] = f"failing: {exc.__class__.__name__}"
    container = getattr(request.app.state, "container", None)
    consumer = getattr(container, "consumer", None)
    if consumer is not None:
        checks["mqtt_consumer"] = "ok" if consumer.ready and _connected(consumer) else "failing"
        # A lane retrying a failed settlement holds its gate's cars: not ready, and say where.
        blocked = list(getattr(consumer, "blocked_lanes", ()))
        checks["lanes"] = f"blocked: {', '.join(blocked)}" if blocked else "ok"
    pool = getattr(container, "reader_pool", None)
    if pool is not None:
        # A reader pool whose dead worker could not be replaced sends every car to review.
        checks["plate_reader"] = "ok" if getattr(pool, "healthy", True) else "failing"
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
    health = getattr(getattr(container, "metrics", None), "gate_health", None)
    if health is not None:
        # Detail, not a failed check: a gate whose answers are lost is the whole system's
        # problem (broker, link, another gateway), and taking this instance out would not help.
        body["gates_unanswered"] = {
            o.lane: {"events": o.unanswered, "waited_s": o.waited_s} for o in health.overdue()
        }
    return JSONResponse(body, status_code=200 if ready else 503)


def _connected(consumer: Any) -> bool:
    client = getattr(consumer, "client", None)
    return bool(client is not None and client.is_connected())
