"""The worker with the real document side: built, schema-valid, signed invoices and corrections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.domain.events import InvoiceAdjustmentRequested
from einvoice import xsd
from einvoice.corrections import (
    REPLACEABLE,
    Correction,
    CorrectionError,
    CorrectionWorker,
    correct,
    correction_from_adjustment,
)
from einvoice.db import invoices
from einvoice.maker import SignerMismatch
from einvoice.verify import verify_invoice
from einvoice.worker import InvoiceWorker
from tests.unit.einvoice_issue.fakes import FakeOutbox, request_payload

T0 = datetime(2027, 3, 2, 3, 0, tzinfo=UTC)  # 10:00 in Hanoi, standard 10% VAT


def issue(
    session_factory: sessionmaker[Session],
    maker: Any,
    *event_ids: str,
    fare: int = 25000,
    **seller: str,
) -> list[int]:
    box = FakeOutbox()
    with session_factory.begin() as s:
        for event_id in event_ids:
            box.add(s, "invoice_request", event_id, request_payload(event_id, fare=fare, **seller))
    results = InvoiceWorker(session_factory, maker, outbox=box, clock=lambda: T0).run_once()
    assert [r.outcome for r in results] == ["issued"] * len(event_ids), results
    return [r.invoice_id for r in results if r.invoice_id is not None]


def load(session_factory: sessionmaker[Session], invoice_id: int) -> Any:
    with session_factory() as s:
        return s.execute(select(invoices).where(invoices.c.id == invoice_id)).one()


def test_issued_invoice_is_schema_valid_signed_and_numbered(
    session_factory: sessionmaker[Session], xml_maker: Any
) -> None:
    [invoice_id] = issue(session_factory, xml_maker, "ev-1")
    row = load(session_factory, invoice_id)
    assert xsd.validate(row.xml) == []
    report = verify_invoice(row.xml)
    assert report.valid, report
    assert [(s.role, s.signer_tax_code) for s in report.signatures] == [("seller", "0101234567")]
    hdon = etree.fromstring(row.xml)
    assert hdon.findtext("DLHDon/TTChung/KHHDon") == "C27MPK"
    assert hdon.findtext("DLHDon/TTChung/SHDon") == "1"
    assert hdon.findtext("DLHDon/TTChung/NLap") == "2027-03-02"
    assert hdon.findtext("MCCQT") == "M1-27-41849-00000000001"
    # 25,000 VAT-inclusive at 8%, the rate on the exit's day (2 March 2026; the request names no
    # rate, as before billing named it): 23,148 + 1,852 adds back to the fare.
    assert (row.pretax_vnd, row.vat_vnd, row.total_vnd, row.vat_rate) == (23148, 1852, 25000, "8%")
    assert hdon.findtext("DLHDon/NDHDon/TToan/TgTTTBSo") == "25000"
    assert row.payload["plate"] == "30A-123.45"


def test_a_seller_without_our_key_fails_and_burns_no_number(
    session_factory: sessionmaker[Session], xml_maker: Any
) -> None:
    box = FakeOutbox()
    with session_factory.begin() as s:
        box.add(s, "invoice_request", "ev-x", request_payload("ev-x", tax_code="0309999999"))
        box.add(s, "invoice_request", "ev-1", request_payload("ev-1"))
    worker = InvoiceWorker(session_factory, xml_maker, outbox=box, clock=lambda: T0)
    failed, issued = worker.run_once()
    assert failed.outcome == "failed" and SignerMismatch.__name__ in (failed.error or "")
    assert issued.outcome == "issued"
    with session_factory() as s:
        assert s.execute(select(invoices.c.number)).scalars().all() == [1]


def test_refund_makes_a_negative_adjusting_invoice_naming_the_original(
    session_factory: sessionmaker[Session], xml_maker: Any
) -> None:
    [original_id] = issue(session_factory, xml_maker, "ev-1", "ev-2")[:1]
    later = T0 + timedelta(days=3)
    adj_id = correct(
        session_factory,
        xml_maker,
        Correction("refund-1", "adjusting", "Hoàn tiền", original_event_id="ev-1", delta_vnd=-5000),
        later,
    )
    row = load(session_factory, adj_id)
    assert (row.kind, row.related_invoice_id, row.event_id) == ("adjusting", original_id, "ev-1")
    assert (row.number, row.total_vnd, row.pretax_vnd + row.vat_vnd) == (3, -5000, -5000)
    assert xsd.validate(row.xml) == []
    assert verify_invoice(row.xml).valid
    rel = etree.fromstring(row.xml).find("DLHDon/TTChung/TTHDLQuan")
    assert [
        rel.findtext(t) for t in ("TCHDon", "KHMSHDCLQuan", "KHHDCLQuan", "SHDCLQuan", "NLHDCLQuan")
    ] == ["2", "1", "C27MPK", "1", "2027-03-02"]
    # Same request again: the same invoice, no new number.
    again = correct(
        session_factory,
        xml_maker,
        Correction("refund-1", "adjusting", "Hoàn tiền", original_event_id="ev-1", delta_vnd=-5000),
        later,
    )
    assert again == adj_id
    # More than what is left on the invoice cannot be refunded.
    with pytest.raises(CorrectionError, match="exceeds"):
        correct(
            session_factory,
            xml_maker,
            Correction("refund-2", "adjusting", "x", original_event_id="ev-1", delta_vnd=-20001),
            later,
        )


def test_wrong_plate_makes_a_replacing_invoice_and_later_fixes_follow_it(
    session_factory: sessionmaker[Session], xml_maker: Any
) -> None:
    [original_id] = issue(session_factory, xml_maker, "ev-1")
    rep_id = correct(
        session_factory,
        xml_maker,
        Correction(
            "plate-1",
            "replacing",
            "Sai biển số",
            original_event_id="ev-1",
            changes={"plate": "30A-123.46"},
        ),
        T0,
    )
    row = load(session_factory, rep_id)
    hdon = etree.fromstring(row.xml)
    assert row.kind == "replacing" and row.plate == "30A-123.46" and row.total_vnd == 25000
    assert hdon.findtext("DLHDon/TTChung/TTHDLQuan/TCHDon") == "1"
    assert hdon.findtext("DLHDon/TTChung/TTHDLQuan/SHDCLQuan") == "1"
    assert "30A-123.46" in hdon.findtext("DLHDon/NDHDon/DSHHDVu/HHDVu/THHDVu")
    assert verify_invoice(row.xml).valid and xsd.validate(row.xml) == []
    # A refund after the replacement adjusts the replacing invoice, not the replaced one.
    adj_id = correct(
        session_factory,
        xml_maker,
        Correction("refund-1", "adjusting", "Hoàn tiền", original_event_id="ev-1", delta_vnd=-1000),
        T0,
    )
    assert load(session_factory, adj_id).related_invoice_id == rep_id != original_id


def test_correction_of_an_invoice_not_issued_yet_waits(
    session_factory: sessionmaker[Session], xml_maker: Any
) -> None:
    box = FakeOutbox()
    with session_factory.begin() as s:
        box.add(
            s,
            "invoice_adjustment",
            "r1",
            {
                "original_event_id": "ev-1",
                "journal_entry_id": 9,
                "reason": "refund",
                "amount_vnd": 5000,
            },
        )
    worker = CorrectionWorker(
        session_factory, xml_maker, outbox=box, clock=lambda: T0, retry_base_seconds=0
    )
    [first] = worker.run_once()
    assert first.outcome == "failed" and "no invoice yet" in (first.error or "")
    issue(session_factory, xml_maker, "ev-1")
    [second] = worker.run_once()
    assert second.outcome == "issued" and second.invoice_id is not None
    assert load(session_factory, second.invoice_id).total_vnd == -5000
    assert worker.run_once() == []


def adjustment(payload: dict[str, object]) -> Correction:
    return correction_from_adjustment(InvoiceAdjustmentRequested.from_payload(payload, REPLACEABLE))


def test_adjustment_payloads() -> None:
    refund = adjustment(
        {"original_event_id": "e", "journal_entry_id": 7, "reason": "r", "amount_vnd": 3000}
    )
    assert (refund.kind, refund.delta_vnd, refund.request_key) == (
        "adjusting",
        -3000,
        "adjustment:7",
    )
    plate = adjustment(
        {"original_event_id": "e", "journal_entry_id": 8, "reason": "r", "plate": "51F-999.99"}
    )
    assert (plate.kind, dict(plate.changes)) == ("replacing", {"plate": "51F-999.99"})
    with pytest.raises(ValueError):
        adjustment({"original_event_id": "e", "journal_entry_id": 9, "amount_vnd": -1})
