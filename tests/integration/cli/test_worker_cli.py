"""``parking worker`` as the real process: an invoice request waiting in the outbox of a fresh
PostgreSQL database becomes an invoice the mock tax authority accepts; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.services import PassageInput, seed_demo, settle_passage
from gateway import migrate
from gateway.broker import free_port
from gateway.db import make_engine, make_session_factory
from gateway.demo import mock_tax_authority
from gateway.demo_world import seller_of
from tests.e2e.passage_stack import PLATE, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _exit_with_a_fare(uow: UnitOfWork, lot: str, gates: tuple[str, str]) -> str:
    """A car parked for 95 minutes: the exit debits a fare and writes an invoice request."""
    now = datetime.now(UTC)
    for gate, direction, at in (
        (gates[0], "entry", now - timedelta(minutes=95)),
        (gates[1], "exit", now),
    ):
        event_id = uuid.uuid4().hex
        decision = settle_passage(
            uow, PassageInput(event_id, lot, gate, direction, at, PLATE, 0.99)
        )
        assert decision.open, decision
    assert decision.fare_vnd and decision.fare_vnd > 0
    return event_id


def test_worker_issues_the_waiting_invoice_and_stops_on_sigterm(
    pg_url: str, tmp_path: Path
) -> None:
    from einvoice.db import invoices

    migrate.upgrade(pg_url)
    engine = make_engine(pg_url)
    sessions = make_session_factory(engine)
    data = seed_demo(UnitOfWork(sessions))
    seller = seller_of(UnitOfWork(sessions), data.operator_id)
    tax_port = free_port()
    tax = mock_tax_authority(seller, tmp_path / "tax-authority", tax_port)
    tax.start()
    lot = data.lots[0]
    event_id = _exit_with_a_fare(UnitOfWork(sessions), lot, data.gates[lot])
    with sessions() as s:
        waiting = s.scalar(
            select(orm.OutboxRow).where(
                orm.OutboxRow.kind == "invoice_request", orm.OutboxRow.key == event_id
            )
        )
        assert waiting is not None and waiting.processed_at is None
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "parking"), "worker"],  # a demo key per seller
        env={
            **os.environ,
            "PARKING_DATABASE_URL": pg_url,
            "PARKING_DATA_DIR": str(tmp_path),
            "PARKING_TAX_AUTHORITY_URL": f"http://127.0.0.1:{tax_port}",
            "PYTHONUNBUFFERED": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def accepted() -> list[Any]:
            with sessions() as s:
                rows = s.execute(select(invoices).where(invoices.c.event_id == event_id)).all()
            return [r for r in rows if r.status == "accepted"]

        try:
            row = wait_until(accepted, 90, "the worker's invoice accepted by the mock")[0]
        except AssertionError:
            worker.kill()
            raise AssertionError(worker.communicate(timeout=10)[0]) from None
        assert row.mccqt  # the authority's code for the invoice
        with sessions() as s:
            done = s.scalar(
                select(orm.OutboxRow).where(
                    orm.OutboxRow.key == event_id, orm.OutboxRow.kind == "invoice_request"
                )
            )
            assert done is not None and done.processed_at is not None
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0, out
        assert "invoice worker and submitter running" in out
        assert "Traceback" not in out
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        tax.stop()
        engine.dispose()
