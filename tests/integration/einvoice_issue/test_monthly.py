"""The monthly consolidated invoice on real PostgreSQL and billing's real outbox: a company
account's passages of a month wait instead of getting an invoice each, then go on one signed,
XSD-valid invoice after the month ends; no passage twice, numbers without gaps, other accounts
invoiced per passage as before, late passages on a further invoice, refunds adjust it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.adapters import outbox
from billing.adapters.orm import OutboxRow, table_of
from billing.domain.events import InvoiceAdjustmentRequested, InvoiceRequested
from einvoice.corrections import CorrectionWorker
from einvoice.db import invoices, monthly_items
from einvoice.maker import XmlInvoiceMaker
from einvoice.monthly import MonthNotOver, issue_month
from einvoice.queries import invoices_by_event
from einvoice.verify import verify_invoice
from einvoice.worker import InvoiceWorker
from tests.unit.einvoice_issue.fakes import request_payload

pytestmark = pytest.mark.integration

NOV = datetime(2027, 1, 20, 3, 0, tzinfo=UTC)  # (the demo certificate starts today)
DEC = datetime(2027, 2, 1, 2, 0, tzinfo=UTC)  # 09:00 on 1 February in Hanoi
COMPANY = {
    "account_id": 7,
    "kind": "business",
    "name": "Công ty TNHH Vận tải Sao Mai",
    "tax_code": "0312345678-001",
    "address": "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
    "email": "ketoan@saomai.vn",
    "monthly": True,
}


def request(event_id: str, exit_local: str, fare: int, buyer: dict[str, Any] | None = None) -> Any:
    payload = request_payload(event_id, fare)
    payload["entry_at"] = exit_local.replace("T10:", "T08:")
    payload["exit_at"] = exit_local
    payload["vat_percent"] = 8
    if buyer is not None:
        payload["buyer"] = buyer
    return InvoiceRequested.from_payload(payload)


def queue(sessions: sessionmaker[Session], *requests: InvoiceRequested) -> None:
    with sessions.begin() as s:
        outbox.add_many(s, list(requests))


def worker(sessions: sessionmaker[Session], maker: XmlInvoiceMaker, now: datetime) -> Any:
    return InvoiceWorker(sessions, maker, outbox=outbox, clock=lambda: now)


def test_a_month_of_passages_goes_on_one_invoice(
    pg_sessions: sessionmaker[Session], xml_maker: XmlInvoiceMaker
) -> None:
    queue(
        pg_sessions,
        request("ev-c1", "2027-01-03T10:00:00+07:00", 30_000, COMPANY),
        request("ev-p1", "2027-01-03T10:00:00+07:00", 25_000),  # a person: invoiced at once
        request("ev-c2", "2027-01-17T10:00:00+07:00", 45_000, COMPANY),
        request("ev-c3", "2027-01-30T10:00:00+07:00", 20_000, COMPANY),
    )
    outcomes = {r.event_id: r.outcome for r in worker(pg_sessions, xml_maker, NOV).run_once()}
    assert outcomes == {
        "ev-c1": "deferred",
        "ev-p1": "issued",
        "ev-c2": "deferred",
        "ev-c3": "deferred",
    }
    with pg_sessions() as s:
        assert s.execute(select(invoices.c.request_key)).scalars().all() == ["ev-p1"]
        assert s.execute(select(monthly_items.c.period)).scalars().all() == ["2027-01"] * 3

    # Not before the month has ended.
    with pytest.raises(MonthNotOver):
        issue_month(pg_sessions, xml_maker, "2027-01", clock=lambda: NOV)

    results = issue_month(pg_sessions, xml_maker, "2027-01", clock=lambda: DEC)
    assert [(r.outcome, r.passages, r.total_vnd) for r in results] == [("issued", 3, 95_000)]
    assert issue_month(pg_sessions, xml_maker, "2027-01", clock=lambda: DEC) == []  # once

    with pg_sessions() as s:
        rows = s.execute(select(invoices).order_by(invoices.c.number)).all()
        assert [r.number for r in rows] == [1, 2]  # gapless across both kinds
        monthly = rows[1]
        assert monthly.request_key == "monthly:7:0101234567:2027-01"
        assert monthly.total_vnd == 95_000 and monthly.buyer_tax_code == "0312345678-001"
        assert monthly.buyer_email == "ketoan@saomai.vn"
        items = s.execute(select(monthly_items.c.invoice_id)).scalars().all()
        assert items == [monthly.id] * 3
    report = verify_invoice(monthly.xml)
    assert report.valid, report.error
    doc = etree.fromstring(monthly.xml)
    assert doc.findtext(".//NMua/MST") == "0312345678-001"
    assert doc.findtext(".//NMua/Ten") == "Công ty TNHH Vận tải Sao Mai"
    assert len(doc.findall(".//HHDVu")) == 3
    assert doc.findtext(".//TgTTTBSo") == "95000"
    assert "Tháng 01/2027" in etree.tostring(doc, encoding="unicode")
    assert doc.findtext(".//NLap") == "2027-02-01"


def test_the_running_worker_issues_ended_months_and_late_passages_get_their_own(
    pg_sessions: sessionmaker[Session], xml_maker: XmlInvoiceMaker
) -> None:
    queue(pg_sessions, request("ev-a", "2027-01-05T10:00:00+07:00", 30_000, COMPANY))
    assert [r.outcome for r in worker(pg_sessions, xml_maker, NOV).run_once()] == ["deferred"]
    queue(pg_sessions, request("ev-b", "2027-02-01T10:00:00+07:00", 40_000, COMPANY))
    # February: the worker defers February's passage and issues January's invoice.
    assert [r.outcome for r in worker(pg_sessions, xml_maker, DEC).run_once()] == ["deferred"]
    # An exit of January settled late (an offline gate): a further January invoice.
    queue(pg_sessions, request("ev-late", "2027-01-30T10:00:00+07:00", 15_000, COMPANY))
    later = DEC + timedelta(days=1)
    worker(pg_sessions, xml_maker, later).run_once()
    with pg_sessions() as s:
        rows = s.execute(select(invoices).order_by(invoices.c.number)).all()
        assert [(r.request_key, r.total_vnd, r.number) for r in rows] == [
            ("monthly:7:0101234567:2027-01", 30_000, 1),
            ("monthly:7:0101234567:2027-01:2", 15_000, 2),
        ]
        waiting = s.execute(
            select(monthly_items.c.request_key).where(monthly_items.c.invoice_id.is_(None))
        ).scalars()
        assert list(waiting) == ["ev-b"]  # February waits for February to end
    # The same passage queued again is neither kept twice nor invoiced.
    with pg_sessions.begin() as s:
        s.execute(update(table_of(OutboxRow)).values(processed_at=None))
    again = worker(pg_sessions, xml_maker, later).run_once()
    assert {r.outcome for r in again} <= {"duplicate", "deferred"}
    with pg_sessions() as s:
        assert len(s.execute(select(monthly_items.c.id)).all()) == 3
        assert len(s.execute(select(invoices.c.id)).all()) == 2


def test_a_refund_of_a_consolidated_passage_adjusts_the_months_invoice(
    pg_sessions: sessionmaker[Session], xml_maker: XmlInvoiceMaker
) -> None:
    queue(
        pg_sessions,
        request("ev-1", "2027-01-05T10:00:00+07:00", 30_000, COMPANY),
        request("ev-2", "2027-01-06T10:00:00+07:00", 50_000, COMPANY),
    )
    worker(pg_sessions, xml_maker, NOV).run_once()
    refund = InvoiceAdjustmentRequested(
        original_event_id="ev-2", journal_entry_id=99, reason="hoàn tiền", amount_vnd=20_000
    )
    with pg_sessions.begin() as s:
        outbox.add(s, refund)
    fixer = CorrectionWorker(pg_sessions, xml_maker, outbox=outbox, clock=lambda: NOV)
    assert [r.outcome for r in fixer.run_once()] == ["failed"]  # waits for the month's invoice
    with pg_sessions() as s:  # reconciliation: a waiting passage is invoiced once, not missing
        waiting = invoices_by_event(s, ["ev-1", "ev-2", "ev-none"])
    assert {e: (t.count, t.amount_vnd) for e, t in waiting.items()} == {
        "ev-1": (1, 30_000),
        "ev-2": (1, 50_000),
    }
    issue_month(pg_sessions, xml_maker, "2027-01", clock=lambda: DEC)
    fixer = CorrectionWorker(pg_sessions, xml_maker, outbox=outbox, clock=lambda: DEC)
    assert [r.outcome for r in fixer.run_once()] == ["issued"]
    with pg_sessions() as s:
        rows = s.execute(select(invoices).order_by(invoices.c.id)).all()
        assert [(r.kind, r.total_vnd) for r in rows] == [
            ("original", 80_000),
            ("adjusting", -20_000),
        ]
        assert rows[1].related_invoice_id == rows[0].id
        assert rows[1].event_id == "ev-2"  # the correction names the passage
        done = invoices_by_event(s, ["ev-1", "ev-2"])
    assert (done["ev-2"].count, done["ev-2"].amount_vnd, done["ev-2"].adjustments_vnd) == (
        1,
        50_000,
        -20_000,
    )
    assert (done["ev-1"].count, done["ev-1"].adjustments_vnd) == (1, 0)
    assert verify_invoice(rows[1].xml).valid
