from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime
from typing import Any

import cv2
import httpx
import numpy as np
import pypdf
from lxml import html as lxml_html
from pypdf.generic import DictionaryObject
from sqlalchemy.orm import Session, sessionmaker

from einvoice import queries, render
from einvoice.client import TaxAuthorityClient
from einvoice.corrections import Correction, correct
from einvoice.submitter import Submitter
from einvoice.worker import InvoiceWorker
from tests.unit.einvoice_issue.fake_authority import FakeAuthority
from tests.unit.einvoice_issue.fakes import FakeOutbox, request_payload

T0 = datetime(2027, 3, 2, 3, 0, tzinfo=UTC)
AUTHORITY = "http://tax.example:8100"


def seed(session_factory: sessionmaker[Session], maker: Any) -> list[int]:
    box = FakeOutbox()
    with session_factory.begin() as s:
        p1 = request_payload("ev-1", fare=25000)
        p2 = request_payload("ev-2", fare=40000)
        p2["lot_id"] = "lot-2"
        p3 = request_payload("ev-3", fare=15000)
        p3["buyer"] = {
            "account_id": 2,
            "kind": "business",
            "name": "Công ty CP Vận tải",
            "tax_code": "0109999999",
            "address": "25 Nguyễn Văn Cừ, Hà Nội",
        }
        for p in (p1, p2, p3):
            box.add(s, "invoice_request", p["event_id"], p)
    results = InvoiceWorker(session_factory, maker, outbox=box, clock=lambda: T0).run_once()
    return [r.invoice_id for r in results if r.invoice_id is not None]


def test_listing_filters_and_reconciliation(
    session_factory: sessionmaker[Session], xml_maker: Any
) -> None:
    ids = seed(session_factory, xml_maker)
    correct(
        session_factory,
        xml_maker,
        Correction("r1", "adjusting", "Hoàn tiền", original_event_id="ev-1", delta_vnd=-5000),
        T0,
    )
    authority = FakeAuthority(reject_numbers={2})
    client = TaxAuthorityClient("http://a", http=httpx.Client(transport=authority.transport()))
    Submitter(
        session_factory,
        client,
        rng=random.Random(1),
        verify_countersignature=False,
        sleep=lambda _: None,
        clock=lambda: T0,
    ).submit_due(invoice_ids=ids)
    with session_factory() as s:
        assert [i.number for i in queries.list_invoices(s, lot_id="lot-1")] == [4, 3, 1]
        assert [i.event_id for i in queries.list_invoices(s, account_id="2")] == ["ev-3"]
        assert queries.count_invoices(s, kind="original") == 3
        assert queries.status_counts(s) == {"accepted": 2, "rejected": 1, "signed": 1}
        assert queries.list_invoices(s, date_from=date(2027, 3, 3)) == []
        rejected = queries.rejected_invoices(s)
        assert [r.invoice.event_id for r in rejected] == ["ev-2"]
        assert rejected[0].reasons == ({"code": "E109", "text": "VAT wrong"},)
        detail = queries.get_invoice(s, ids[0])
        assert detail is not None
        assert [h.status for h in detail.history] == ["signed", "sent", "accepted"]
        assert [(c.kind, c.total_vnd) for c in detail.corrections] == [("adjusting", -5000)]
        assert detail.invoice.key == "1C27MPK-00000001"
        by_event = queries.invoices_by_event(s, ["ev-1", "ev-2", "ev-9"])
        assert by_event["ev-1"] == queries.EventInvoices(1, 25000, 1, -5000)
        assert by_event["ev-2"] == queries.EventInvoices(1, 40000, 0, 0)
        assert "ev-9" not in by_event
        days = queries.totals_by_lot_day(s, date(2027, 3, 1), date(2027, 3, 31))
        assert [
            (d.lot_id, d.count, d.total_vnd, d.accepted, d.rejected, d.pending) for d in days
        ] == [("lot-1", 3, 35000, 2, 0, 1), ("lot-2", 1, 40000, 0, 1, 0)]
        name, data = queries.invoice_xml(s, ids[0])
        assert name == "1C27MPK-00000001.xml" and data.startswith(b"<?xml")
    lookup = queries.event_lookup(session_factory)
    assert lookup(["ev-3"])["ev-3"].amount_vnd == 15000


def _stored_xml(session_factory: sessionmaker[Session], invoice_id: int) -> bytes:
    with session_factory() as s:
        return queries.invoice_xml(s, invoice_id)[1]


def test_html_rendition_shows_the_signed_data_and_a_lookup_qr(
    session_factory: sessionmaker[Session], xml_maker: Any
) -> None:
    ids = seed(session_factory, xml_maker)
    page = render.render_html(_stored_xml(session_factory, ids[2]), AUTHORITY, status="accepted")
    doc = lxml_html.fromstring(page)
    assert doc.findtext(".//h1") == "HÓA ĐƠN GIÁ TRỊ GIA TĂNG"
    assert doc.find_class("buyer")[0].text == "Công ty CP Vận tải"
    assert doc.find_class("amount")[0].text == "15.000"
    assert doc.find_class("words")[0].text == "Mười lăm nghìn đồng"
    assert doc.find_class("mccqt")[0].text == "M1-27-41849-00000000003"
    link = doc.xpath("//div[@class='qr']//a/@href")
    assert link == [f"{AUTHORITY}/lookup?code=M1-27-41849-00000000003"]
    assert doc.xpath("//div[@class='qr']//svg")
    assert "http" not in page.split("<body>")[0].replace("http-equiv", "")  # no external assets


def test_qr_code_decodes_to_the_lookup_page() -> None:
    url = render.lookup_url(AUTHORITY, "M1-27-41849-00000000003")
    png = np.frombuffer(render.qr_png(url), dtype=np.uint8)
    image = cv2.imdecode(png, cv2.IMREAD_GRAYSCALE)
    assert image is not None
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert text == "http://tax.example:8100/lookup?code=M1-27-41849-00000000003"


def test_pdf_rendition_has_vietnamese_text_and_the_qr_image(
    session_factory: sessionmaker[Session], xml_maker: Any
) -> None:
    ids = seed(session_factory, xml_maker)
    adj = correct(
        session_factory,
        xml_maker,
        Correction("r1", "adjusting", "Hoàn tiền", original_event_id="ev-1", delta_vnd=-5000),
        T0,
    )
    pdf = render.render_pdf(_stored_xml(session_factory, ids[0]), AUTHORITY)
    assert pdf.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = " ".join(reader.pages[0].extract_text().split())  # lines wrap in table cells
    for expected in (
        "HÓA ĐƠN GIÁ TRỊ GIA TĂNG",
        "Nguyễn Văn An",
        "Hai mươi lăm nghìn đồng",
        "M1-27-41849-00000000001",
        "25.000",
        "Tra cứu tại cơ quan thuế",
    ):
        assert expected in text, expected
    fonts = {str(f["/BaseFont"]) for f in _fonts(reader)}
    assert any("DejaVuSans" in f or "InvoiceSans" in f for f in fonts), fonts
    assert _resources(reader)["/XObject"]  # the QR image
    adj_text = (
        pypdf.PdfReader(io.BytesIO(render.render_pdf(_stored_xml(session_factory, adj), AUTHORITY)))
        .pages[0]
        .extract_text()
    )
    adj_text = " ".join(adj_text.split())
    assert "Điều chỉnh cho hóa đơn ký hiệu 1C27MPK số 1 ngày 02/03/2027" in adj_text
    assert "-5.000" in adj_text


def _resources(reader: pypdf.PdfReader) -> DictionaryObject:
    """The first page's /Resources dictionary."""
    res = reader.pages[0]["/Resources"]
    assert isinstance(res, DictionaryObject)
    return res


def _fonts(reader: pypdf.PdfReader) -> list[Any]:
    res = _resources(reader)["/Font"]
    assert isinstance(res, DictionaryObject)
    return [res[k].get_object() for k in res]


def test_pdf_blocks_leave_out_what_the_invoice_does_not_have(
    session_factory: sessionmaker[Session], xml_maker: Any
) -> None:
    ids = seed(session_factory, xml_maker)
    person = render.invoice_view(_stored_xml(session_factory, ids[0]), AUTHORITY)
    business = render.invoice_view(_stored_xml(session_factory, ids[2]), AUTHORITY)
    seller, buyer = render.pdf_party_lines(person)
    assert seller[0].startswith("<b>Đơn vị bán:</b>") and len(seller) == 4
    assert buyer == ["<b>Người mua:</b> Nguyễn Văn An"]
    _, buyer = render.pdf_party_lines(business)
    assert buyer[1:] == ["Mã số thuế: 0109999999", "Địa chỉ: 25 Nguyễn Văn Cừ, Hà Nội"]
    heading = render.pdf_heading_lines(person, None)
    assert heading[1] == "Mã của cơ quan thuế: M1-27-41849-00000000001"
    assert not any(x.startswith("Trạng thái") for x in heading)
    assert render.pdf_heading_lines(person, "accepted")[-1].startswith("Trạng thái: ")
    totals = render.pdf_total_lines(person)
    assert totals[-2] == "<b>Tổng tiền thanh toán: 25.000 VND</b>"
    assert totals[-1] == "Số tiền viết bằng chữ: Hai mươi lăm nghìn đồng"
    assert not any(x.startswith("Mã tra cứu") for x in render.pdf_signature_lines(person))
