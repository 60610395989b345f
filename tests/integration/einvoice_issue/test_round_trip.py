"""Exit -> invoice -> signed -> accepted, from billing's settle_passage to the mock authority."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from billing.adapters import outbox as billing_outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import PassageInput
from billing.domain.model import InvoiceMode, Owner, OwnerKind, Seller
from billing.services.accounts import (
    add_gate,
    add_vehicle,
    create_account,
    create_lot,
    create_operator,
)
from billing.services.reconcile import reconcile
from billing.services.settle import settle_passage
from billing.services.topups import refund, top_up
from einvoice import queries
from einvoice.client import TaxAuthorityClient
from einvoice.corrections import CorrectionWorker
from einvoice.db import invoices
from einvoice.service import InvoicingService
from einvoice.submitter import Submitter
from einvoice.verify import verify_invoice
from einvoice.worker import InvoiceWorker
from tests.integration.einvoice_issue.conftest import SELLER_MST, make_authority
from tests.integration.einvoice_issue.test_against_mock import FAST

pytestmark = pytest.mark.integration
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def world(uow: UnitOfWork, mode: InvoiceMode) -> tuple[int, str, str]:
    create_operator(
        uow,
        "op-1",
        Seller(
            name="Công ty TNHH Bãi Xe Phố Cổ",
            tax_code=SELLER_MST,
            address="1 Hàng Bài, Hoàn Kiếm, Hà Nội",
            invoice_template="1",
            invoice_series="C26MPK",
            invoice_mode=mode,
            cash_register_code="41849",
        ),
    )
    create_lot(uow, "lot-1", "Bãi xe Hàng Bài", "op-1", "hn-central", capacity=50)
    entry = add_gate(uow, "lot-1-in", "lot-1", "entry")
    exit_ = add_gate(uow, "lot-1-out", "lot-1", "exit")
    acct = create_account(uow, Owner(OwnerKind.PERSON, "Nguyễn Văn An"))
    add_vehicle(uow, acct, "30A-123.45", "car_le9")
    top_up(uow, acct, 500_000, "demo-bank", "seed-1")
    return acct, entry, exit_


@pytest.mark.parametrize("mode", [InvoiceMode.CASH_REGISTER, InvoiceMode.AUTHORITY_CODED])
def test_paid_exit_gets_one_accepted_invoice_and_reconciles(
    tmp_path: Path,
    demo_keys: Any,
    xml_maker: Any,
    pg_sessions: Any,
    mode: InvoiceMode,
) -> None:
    uow = UnitOfWork(pg_sessions)
    _, entry_gate, exit_gate = world(uow, mode)
    exit_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    entry_at = exit_at - timedelta(hours=2)
    settle_passage(uow, PassageInput("ev-in", "lot-1", entry_gate, "entry", entry_at, "30A-123.45"))
    decision = settle_passage(
        uow, PassageInput("ev-out", "lot-1", exit_gate, "exit", exit_at, "30A-123.45")
    )
    assert decision.open and decision.fare_vnd and decision.fare_vnd > 0
    # The gate event is delivered twice: billing answers the same, nothing more to invoice.
    settle_passage(uow, PassageInput("ev-out", "lot-1", exit_gate, "exit", exit_at, "30A-123.45"))

    app = make_authority(tmp_path, demo_keys)
    with TestClient(app) as http:
        client = TaxAuthorityClient("http://testserver", http=http)
        service = InvoicingService(
            InvoiceWorker(pg_sessions, xml_maker, outbox=billing_outbox),
            CorrectionWorker(pg_sessions, xml_maker, outbox=billing_outbox),
            Submitter(pg_sessions, client, policy=FAST),
        )
        report = service.run_once()
        assert [r.outcome for r in report.issued] == ["issued"]
        assert report.sent is not None and report.sent.accepted == 1
        assert service.run_once().idle  # nothing left, nothing issued twice

        with pg_sessions() as s:
            inv = queries.get_invoice_for_event(s, "ev-out")
            assert inv is not None
            row = s.execute(select(invoices).where(invoices.c.id == inv.id)).one()
        assert inv.total_vnd == decision.fare_vnd and inv.status == "accepted"
        assert inv.plate == "30A-123.45" and inv.buyer_name == "Nguyễn Văn An"
        assert inv.issue_date == datetime.now(HANOI).date()
        signed = row.authority_xml if mode == InvoiceMode.AUTHORITY_CODED else row.xml
        report_ = verify_invoice(signed)
        assert report_.valid, report_
        expected_roles = (
            {"seller", "authority"} if mode == InvoiceMode.AUTHORITY_CODED else {"seller"}
        )
        assert {sig.role for sig in report_.signatures} == expected_roles

        rec = reconcile(
            uow,
            exit_at.astimezone(HANOI).date(),
            "lot-1",
            invoices=queries.event_lookup(pg_sessions),  # the gateway's own wiring
        )
        assert [m for m in rec.mismatches if m.kind.startswith("invoice")] == []
        assert rec.lots[0].invoices == 1 and rec.lots[0].invoiced_vnd == decision.fare_vnd

        # A partial refund becomes an adjusting invoice naming the original.
        with pg_sessions() as s:
            entry_id = row.payload["journal_entry_id"]
        refund(uow, entry_id, key="rf-1", reason="Thu nhầm", actor="operator", amount_vnd=5000)
        report = service.run_once()
        assert [r.outcome for r in report.corrections] == ["issued"]
        with pg_sessions() as s:
            detail = queries.get_invoice(s, inv.id)
        assert detail is not None
        [adjusting] = detail.corrections
        assert (adjusting.kind, adjusting.total_vnd) == ("adjusting", -5000)
        assert adjusting.status == "accepted", adjusting.last_error
