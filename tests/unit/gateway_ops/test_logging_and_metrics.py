"""Every log line of a passage carries its event id; metrics render in Prometheus format."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from gateway.logging import ContextFilter, JsonFormatter, passage_context
from gateway.metrics import DatabaseCollector, Metrics


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


def test_event_id_follows_the_passage_into_threads_and_not_beyond() -> None:
    logger, stream = _capture()

    async def passage() -> None:
        with passage_context("evt-123", "L1/G1"):
            logger.info("received")
            await asyncio.to_thread(logger.info, "settled in a worker thread")
        logger.info("after")

    asyncio.run(passage())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("event_id") for line in lines] == ["evt-123", "evt-123", None]
    assert lines[0]["lane"] == "L1/G1" and lines[0]["msg"] == "received"


def test_metrics_render_counters_and_database_backlog() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE outbox (id INTEGER PRIMARY KEY, kind TEXT, created_at TIMESTAMP, "
                "processed_at TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO outbox (kind, created_at, processed_at) VALUES "
                "('invoice_request', '2020-01-01 00:00:00', NULL), "
                "('invoice_request', '2020-01-02 00:00:00', NULL), "
                "('barrier_command', '2020-01-01 00:00:00', '2020-01-01 00:00:01')"
            )
        )
    m = Metrics()
    m.add_collector(
        DatabaseCollector(sessionmaker(bind=engine), lambda _s: {"accepted": 3, "signed": 1})
    )
    m.decisions.labels(outcome="open", reason="exit_paid").inc()
    m.decision_seconds.observe(0.12)
    out = m.render().decode()
    assert 'parking_decisions_total{outcome="open",reason="exit_paid"} 1.0' in out
    assert 'parking_outbox_backlog{kind="invoice_request"} 2.0' in out
    assert 'parking_invoices{status="accepted"} 3.0' in out
    assert "parking_decision_seconds_bucket" in out
    age = {
        line.split('"')[1]: float(line.split()[-1])
        for line in out.splitlines()
        if line.startswith("parking_outbox_oldest_age_seconds{")
    }
    assert age["invoice_request"] > 86400 * 365
    assert age["barrier_command"] == 0.0  # nothing waiting: zero, not absent
    assert 'parking_outbox_backlog{kind="barrier_command"} 0.0' in out


def test_metrics_survive_a_missing_table() -> None:
    m = Metrics()
    m.add_collector(DatabaseCollector(sessionmaker(bind=create_engine("sqlite://"))))
    assert "parking_outbox_backlog" in m.render().decode()
