"""Issue on PostgreSQL, submit to the real mock tax authority, in-process and over sockets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Unpack

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.adapters import outbox
from einvoice.client import TaxAuthorityClient
from einvoice.db import invoices, status_history
from einvoice.keys import DemoKeys
from einvoice.maker import XmlInvoiceMaker
from einvoice.submitter import RetryPolicy, Submitter
from einvoice.verify import verify_invoice
from einvoice.worker import InvoiceWorker
from simulator.tax_authority.db import InvoiceRow
from tests.integration.einvoice_issue.conftest import make_authority
from tests.unit.einvoice_issue.fakes import SellerFields, invoice_request

pytestmark = pytest.mark.integration

FAST = RetryPolicy(
    attempts=4,
    base_seconds=0.01,
    max_seconds=0.1,
    reschedule_base_seconds=0.01,
    reschedule_max_seconds=0.1,
)


def queue(sessions: sessionmaker[Session], *event_ids: str, **seller: Unpack[SellerFields]) -> None:
    with sessions.begin() as s:
        for event_id in event_ids:
            outbox.add(s, invoice_request(event_id, **seller))


def statuses(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as s:
        rows = s.execute(select(invoices.c.status, func.count()).group_by(invoices.c.status))
        return {status: int(n) for status, n in rows}


def test_round_trip_in_process_cash_register_and_authority_coded(
    tmp_path: Path, demo_keys: DemoKeys, xml_maker: XmlInvoiceMaker, pg_sessions: Any
) -> None:
    app = make_authority(tmp_path, demo_keys)
    queue(pg_sessions, "ev-1", "ev-2", "ev-3")
    queue(pg_sessions, "ev-4", "ev-5", invoice_mode="authority_coded")
    issued = InvoiceWorker(pg_sessions, xml_maker, outbox=outbox).run_once()
    assert [r.outcome for r in issued] == ["issued"] * 5
    with TestClient(app) as http:
        client = TaxAuthorityClient("http://testserver", http=http)
        summary = Submitter(pg_sessions, client, policy=FAST).submit_due()
        assert (summary.accepted, summary.rejected, summary.pending) == (5, 0, 0), summary
        assert sorted(m.message_type for m in summary.messages) == [200, 200, 206]
        with pg_sessions() as s:
            rows = s.execute(select(invoices).order_by(invoices.c.id)).all()
        for row in rows:
            assert row.mccqt and len(row.mccqt) == 23
            stored = client.lookup(row.mccqt)
            assert stored is not None
        coded = [r for r in rows if r.mode == "authority_coded"]
        for row in coded:
            report = verify_invoice(row.authority_xml)
            assert report.valid, report
            assert {s.role for s in report.signatures} == {"seller", "authority"}
            assert row.series.startswith("C") and row.series[3] == "T"
        # The tax office's page of the invoice knows it (the public lookup needs the portal's
        # fields and a captcha: tests/api/tax_authority/test_portal_lookup.py).
        page = http.get(f"/invoices/{rows[0].mccqt}")
        assert page.status_code == 200 and rows[0].mccqt in page.text
    with pg_sessions() as s:
        hist = (
            s.execute(
                select(status_history.c.status).where(status_history.c.invoice_id == rows[0].id)
            )
            .scalars()
            .all()
        )
    assert hist == ["signed", "sent", "accepted"]


def test_rejected_invoice_carries_the_authoritys_reasons(
    tmp_path: Path, demo_keys: DemoKeys, xml_maker: XmlInvoiceMaker, pg_sessions: Any
) -> None:
    app = make_authority(tmp_path, demo_keys)
    queue(pg_sessions, "ev-old")
    # Issued 40 days ago: older than the authority accepts (30 days).
    old = datetime.now(UTC) - timedelta(days=40)
    InvoiceWorker(pg_sessions, xml_maker, clock=lambda: old, outbox=outbox).run_once()
    with TestClient(app) as http:
        client = TaxAuthorityClient("http://testserver", http=http)
        summary = Submitter(pg_sessions, client, policy=FAST).submit_due()
    assert summary.rejected == 1
    with pg_sessions() as s:
        row = s.execute(select(invoices)).one()
        detail = s.execute(
            select(status_history.c.detail).where(status_history.c.status == "rejected")
        ).scalar_one()
    assert row.status == "rejected"
    assert detail["reasons"] and all(r["code"].startswith("E") for r in detail["reasons"])
    assert row.last_error


def test_authority_coded_invoice_rejected_by_the_mock_gets_no_code(
    tmp_path: Path, demo_keys: DemoKeys, xml_maker: XmlInvoiceMaker, pg_sessions: Any
) -> None:
    """Authority-coded mode, refused: a 200 answered by a 204 with the reasons, no MCCQT, no
    countersigned copy, and the status history signed -> sent -> rejected with those reasons."""
    app = make_authority(tmp_path, demo_keys)
    queue(pg_sessions, "ev-old-coded", invoice_mode="authority_coded")
    old = datetime.now(UTC) - timedelta(days=40)  # older than the mock's 30-day limit
    InvoiceWorker(pg_sessions, xml_maker, clock=lambda: old, outbox=outbox).run_once()
    with TestClient(app) as http:
        client = TaxAuthorityClient("http://testserver", http=http)
        summary = Submitter(pg_sessions, client, policy=FAST).submit_due()
    assert summary.rejected == 1
    assert [m.message_type for m in summary.messages] == [200]
    with pg_sessions() as s:
        row = s.execute(select(invoices)).one()
        history = s.execute(
            select(status_history.c.status, status_history.c.detail).order_by(status_history.c.id)
        ).all()
    assert (row.status, row.mccqt, row.authority_xml) == ("rejected", None, None)
    assert [h.status for h in history] == ["signed", "sent", "rejected"]
    # DATE_TOO_OLD (and E102: the demo certificate was made today, after the invoice's date)
    assert "E113" in {r["code"] for r in history[-1].detail["reasons"]}
    with app.state.sessions() as s:
        assert s.execute(select(func.count()).select_from(InvoiceRow)).scalar_one() == 0


def test_submitter_survives_injected_faults_without_loss_or_duplicates(
    tmp_path: Path, demo_keys: DemoKeys, xml_maker: XmlInvoiceMaker, pg_sessions: Any, serve: Any
) -> None:
    app = make_authority(
        tmp_path,
        demo_keys,
        fault_error_rate=0.2,
        fault_drop_rate=0.1,
        fault_drop_after_rate=0.15,
        fault_latency_ms=2,
        fault_latency_jitter_ms=20,
        fault_seed=11,
    )
    running = serve(app)
    total = 30
    queue(pg_sessions, *(f"ev-{i}" for i in range(total - 6)))
    queue(pg_sessions, *(f"ev-c{i}" for i in range(6)), invoice_mode="authority_coded")
    worker = InvoiceWorker(pg_sessions, xml_maker, outbox=outbox)
    client = TaxAuthorityClient(running.url, timeout=5.0)
    submitter = Submitter(pg_sessions, client, policy=FAST, rng=random.Random(3))
    # Issue and send each invoice at once, as the gateway does.
    for result in worker.run_once():
        assert result.outcome == "issued" and result.invoice_id is not None
        submitter.submit_due(invoice_ids=[result.invoice_id])
    for _ in range(20):  # then batch resends until everything has an answer
        if statuses(pg_sessions).keys() <= {"accepted"}:
            break
        submitter.resend_batch()
    client.close()
    assert statuses(pg_sessions) == {"accepted": total}
    faults = running.app.fault_dice.counts
    assert faults["error"] and faults["drop"] and faults["drop_after"]  # faults were injected
    with running.app.state.sessions() as s:
        theirs = s.execute(select(InvoiceRow.mccqt, InvoiceRow.number, InvoiceRow.series)).all()
    with pg_sessions() as s:
        ours = s.execute(select(invoices.c.mccqt, invoices.c.number, invoices.c.series)).all()
    assert len(theirs) == total  # none lost, none twice
    assert sorted(map(tuple, theirs)) == sorted(map(tuple, ours))


def test_unreachable_authority_then_batch_resend(
    tmp_path: Path, demo_keys: DemoKeys, xml_maker: XmlInvoiceMaker, pg_sessions: Any, serve: Any
) -> None:
    queue(pg_sessions, "ev-1", "ev-2", "ev-3")
    issued = InvoiceWorker(pg_sessions, xml_maker, outbox=outbox).run_once()
    # Nothing listens on this port: every attempt fails to connect.
    with httpx.Client(timeout=1.0) as http:
        down = TaxAuthorityClient("http://127.0.0.1:9", http=http)
        submitter = Submitter(pg_sessions, down, policy=FAST)
        for result in issued:
            assert result.invoice_id is not None
            assert submitter.submit_due(invoice_ids=[result.invoice_id]).pending == 1
    assert statuses(pg_sessions) == {"signed": 3}
    running = serve(make_authority(tmp_path, demo_keys))
    with TaxAuthorityClient(running.url) as up:
        summary = Submitter(pg_sessions, up, policy=FAST).resend_batch()
    assert summary.accepted == 3
    assert [m.message_type for m in summary.messages] == [206]
    assert len(summary.messages[0].invoice_ids) == 3
