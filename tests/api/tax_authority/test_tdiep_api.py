"""POST /api/tdiep: acknowledgements, business results, error codes, idempotency."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import func, select

from einvoice import tdiep
from einvoice.tdiep import MessageType
from einvoice.verify import verify_invoice
from simulator.tax_authority.db import InvoiceRow, MessageRow, RejectionRow
from tests.unit.tax_authority.factory import (
    OTHER_MST,
    SELLER_MST,
    KeySet,
    build_invoice,
    envelope,
    now_local,
    series,
    set_text,
)

TT = "DLHDon/NDHDon/TToan"


def post(client: TestClient, body: bytes) -> tuple[int, tdiep.Reply]:
    response = client.post("/api/tdiep", content=body, headers={"content-type": "application/xml"})
    return response.status_code, tdiep.parse_reply(response.content)


def results(reply: tdiep.Reply) -> tuple[tdiep.InvoiceResult, ...]:
    assert reply.result is not None
    return tdiep.parse_check_result(reply.result)


def codes_of(result: tdiep.InvoiceResult) -> set[str]:
    return {r.code for r in result.reasons}


def count(app, model) -> int:
    with app.state.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def send_one(client: TestClient, xml: bytes) -> tdiep.InvoiceResult:
    status, reply = post(client, envelope([xml]))
    assert status == 200
    assert reply.ack.received
    (result,) = results(reply)
    return result


def test_valid_cash_register_invoice_is_accepted_and_can_be_looked_up(
    client: TestClient, app, keyset: KeySet
) -> None:
    xml = build_invoice(keyset.seller, number=1)
    result = send_one(client, xml)
    assert result.accepted, result.reasons
    assert result.mccqt is not None and result.mccqt.startswith("M1-")
    assert result.number == 1

    data = client.get(f"/api/invoices/{result.mccqt}").json()
    assert data["seller"]["tax_code"] == SELLER_MST
    assert data["total_vnd"] == 25_000
    assert data["total_pretax_vnd"] + data["total_vat_vnd"] == 25_000
    assert data["signature"]["valid"] is True
    assert data["signature"]["signatures"][0]["signer_tax_code"] == SELLER_MST
    as_xml = client.get(f"/api/invoices/{result.mccqt}", params={"format": "xml"})
    assert as_xml.headers["content-type"].startswith("application/xml")
    assert verify_invoice(as_xml.content).valid
    assert result.mccqt.encode() in as_xml.content
    assert client.get("/api/invoices/M1-26-00000-00000000099").status_code == 404


def test_tampered_invoice_rejected_with_signature_code(
    client: TestClient, app, keyset: KeySet
) -> None:
    xml = build_invoice(keyset.seller, number=1)
    tampered = xml.replace(b"30A-123.45", b"30A-999.99")
    assert tampered != xml
    result = send_one(client, tampered)
    assert not result.accepted
    assert "E102" in codes_of(result)
    assert count(app, InvoiceRow) == 0
    assert count(app, RejectionRow) == 1


def test_unsigned_invoice_rejected(client: TestClient, keyset: KeySet) -> None:
    result = send_one(client, build_invoice(None, number=1))
    assert not result.accepted
    assert "E102" in codes_of(result)


def test_certificate_of_another_taxpayer_rejected(client: TestClient, keyset: KeySet) -> None:
    result = send_one(client, build_invoice(keyset.other, number=1))
    assert not result.accepted
    assert codes_of(result) == {"E103"}


def test_unregistered_seller_rejected(client: TestClient, keyset: KeySet) -> None:
    xml = build_invoice(keyset.other, number=1, seller_mst=OTHER_MST)
    status, reply = post(client, envelope([xml], tax_code=OTHER_MST))
    assert status == 200
    (result,) = results(reply)
    assert not result.accepted
    assert codes_of(result) == {"E104"}


def test_header_mst_must_be_the_sellers(client: TestClient, keyset: KeySet) -> None:
    status, reply = post(client, envelope([build_invoice(keyset.seller)], tax_code=OTHER_MST))
    assert status == 200
    (result,) = results(reply)
    assert codes_of(result) == {"E116"}


def test_duplicate_number_rejected(client: TestClient, app, keyset: KeySet) -> None:
    assert send_one(client, build_invoice(keyset.seller, number=5)).accepted
    # Same number, different content (another fare): a second invoice 5 is a duplicate.
    again = build_invoice(keyset.seller, number=5, fare=30_000)
    result = send_one(client, again)
    assert not result.accepted
    assert "E106" in codes_of(result)
    assert count(app, InvoiceRow) == 1


def test_number_not_ascending_with_dates_rejected(client: TestClient, keyset: KeySet) -> None:
    earlier = now_local() - timedelta(days=2)
    later = now_local() - timedelta(days=1)
    same_series = series("C", "M", earlier)
    assert send_one(
        client, build_invoice(keyset.seller, number=10, issued_at=earlier, series_code=same_series)
    ).accepted
    # A lower number dated after an accepted higher one.
    result = send_one(
        client, build_invoice(keyset.seller, number=9, issued_at=later, series_code=same_series)
    )
    assert "E107" in codes_of(result)
    # A higher number dated before an accepted lower one.
    assert send_one(
        client, build_invoice(keyset.seller, number=12, issued_at=later, series_code=same_series)
    ).accepted
    result = send_one(
        client,
        build_invoice(
            keyset.seller,
            number=13,
            issued_at=earlier - timedelta(days=1),
            series_code=same_series,
        ),
    )
    assert "E107" in codes_of(result)
    # Out-of-order arrival on the same date is fine (a retried invoice may come late).
    assert send_one(
        client, build_invoice(keyset.seller, number=8, issued_at=earlier, series_code=same_series)
    ).accepted


def test_wrong_totals_rejected(client: TestClient, keyset: KeySet) -> None:
    xml = build_invoice(keyset.seller, number=1, mutate=set_text(f"{TT}/TgTTTBSo", "26000"))
    result = send_one(client, xml)
    assert not result.accepted
    assert "E110" in codes_of(result)


def test_wrong_vat_rejected(client: TestClient, keyset: KeySet) -> None:
    xml = build_invoice(
        keyset.seller, number=1, mutate=set_text(f"{TT}/THTTLTSuat/LTSuat/TThue", "1000")
    )
    result = send_one(client, xml)
    assert {"E109", "E110"} <= codes_of(result)


def test_wrong_line_amount_rejected(client: TestClient, keyset: KeySet) -> None:
    xml = build_invoice(
        keyset.seller, number=1, mutate=set_text("DLHDon/NDHDon/DSHHDVu/HHDVu/DGia", "20000")
    )
    assert "E108" in codes_of(send_one(client, xml))


def test_wrong_words_rejected(client: TestClient, keyset: KeySet) -> None:
    xml = build_invoice(
        keyset.seller, number=1, mutate=set_text(f"{TT}/TgTTTBChu", "Hai mươi sáu nghìn đồng")
    )
    result = send_one(client, xml)
    assert codes_of(result) == {"E111"}


def test_future_and_old_dates_rejected(client: TestClient, keyset: KeySet) -> None:
    future = build_invoice(keyset.seller, number=1, issued_at=now_local() + timedelta(days=2))
    assert "E112" in codes_of(send_one(client, future))
    old = build_invoice(keyset.seller, number=2, issued_at=now_local() - timedelta(days=60))
    assert "E113" in codes_of(send_one(client, old))


def test_wrong_cash_register_code_rejected(client: TestClient, keyset: KeySet) -> None:
    xml = build_invoice(keyset.seller, number=1, mccqt="M1-26-99999-00000000001")
    assert "E115" in codes_of(send_one(client, xml))


def test_batch_gives_one_result_per_invoice(client: TestClient, app, keyset: KeySet) -> None:
    good = [build_invoice(keyset.seller, number=n) for n in (1, 2, 3)]
    bad = build_invoice(None, number=4)
    status, reply = post(client, envelope([*good, bad]))
    assert status == 200
    got = results(reply)
    assert [r.accepted for r in got] == [True, True, True, False]
    assert [r.number for r in got] == [1, 2, 3, 4]
    assert count(app, InvoiceRow) == 3


def test_authority_coded_invoice_gets_code_and_countersignature(
    client: TestClient, app, keyset: KeySet
) -> None:
    xml = build_invoice(keyset.seller, number=1, mode="authority_coded")
    status, reply = post(client, envelope([xml], MessageType.CODING_REQUEST))
    assert status == 200 and reply.ack.received
    assert reply.result is not None
    assert reply.result.header.type == MessageType.CODED_INVOICE
    assert reply.result.header.reference_id == reply.ack.acked_id
    (hdon,) = reply.result.invoices()
    coded = tdiep.hdon_bytes(hdon)
    mccqt = hdon.findtext("MCCQT")
    assert mccqt is not None and len(mccqt) == 23
    report = verify_invoice(coded)
    assert report.valid, report.error
    roles = {s.role: s for s in report.signatures}
    assert roles["seller"].signer_tax_code == SELLER_MST
    assert roles["authority"].valid
    assert roles["authority"].signer_tax_code == keyset.authority.tax_code
    # The countersignature covers the code: changing it breaks the authority's signature.
    forged = coded.replace(mccqt.encode(), mccqt[:-1].encode() + b"X")
    assert not verify_invoice(forged).valid
    # The wrapped 202 as a whole verifies too (files arrive as TDiep/DLieu/HDon).
    whole = etree.tostring(reply.result.body.getparent())
    assert verify_invoice(whole).valid
    looked_up = client.get(f"/api/invoices/{mccqt}", params={"format": "xml"}).content
    assert verify_invoice(looked_up).valid


def test_authority_coded_rejection_is_a_204(client: TestClient, keyset: KeySet) -> None:
    xml = build_invoice(keyset.other, number=1, mode="authority_coded")
    status, reply = post(client, envelope([xml], MessageType.CODING_REQUEST))
    assert status == 200
    assert reply.result is not None and reply.result.header.type == MessageType.CHECK_RESULT
    (result,) = tdiep.parse_check_result(reply.result)
    assert codes_of(result) == {"E103"}


def test_no_code_invoice_203(client: TestClient, keyset: KeySet) -> None:
    xml = build_invoice(keyset.seller, number=1, mode="no_code")
    status, reply = post(client, envelope([xml], MessageType.NO_CODE_INVOICE))
    assert status == 200
    (result,) = results(reply)
    assert result.accepted, result.reasons
    # A seller-made code is not allowed where the authority assigns it.
    with_code = build_invoice(keyset.seller, number=2, mode="cash_register")
    status, reply = post(client, envelope([with_code], MessageType.NO_CODE_INVOICE))
    assert status == 200
    (result,) = results(reply)
    assert "E115" in codes_of(result)


def test_resend_of_same_message_id_returns_stored_answer(
    client: TestClient, app, keyset: KeySet
) -> None:
    body = envelope([build_invoice(keyset.seller, number=1)], message_id="V0101234567RESEND01")
    first = client.post("/api/tdiep", content=body)
    second = client.post("/api/tdiep", content=body)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert second.headers.get("x-resent") == "1"
    assert count(app, InvoiceRow) == 1
    assert count(app, MessageRow) == 1


def test_same_invoice_under_a_new_message_id_is_not_recorded_twice(
    client: TestClient, app, keyset: KeySet
) -> None:
    xml = build_invoice(keyset.seller, number=1)
    first = send_one(client, xml)
    second = send_one(client, xml)
    assert first.accepted and second.accepted
    assert first.mccqt == second.mccqt
    assert count(app, InvoiceRow) == 1


def test_malformed_xml_gets_unreadable_ack(client: TestClient, app) -> None:
    status, reply = post(client, b"<TDiep><TTChung>")
    assert status == 400
    assert not reply.ack.received
    assert reply.ack.reasons[0].code == "T001"
    assert reply.result is None
    assert count(app, RejectionRow) == 1


def test_billion_laughs_refused_without_expansion(client: TestClient) -> None:
    lol = (
        b'<?xml version="1.0"?><!DOCTYPE TDiep [<!ENTITY a "lol">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
        )
        + b"]><TDiep>&j;</TDiep>"
    )
    status, reply = post(client, lol)
    assert status == 400
    assert reply.ack.reasons[0].code == "T003"


def test_external_entity_refused(client: TestClient) -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE TDiep [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<TDiep>&x;</TDiep>"
    )
    status, reply = post(client, body)
    assert status == 400
    assert reply.ack.reasons[0].code == "T003"
    assert b"root:" not in client.post("/api/tdiep", content=body).content


def test_oversized_body_refused(client: TestClient, app) -> None:
    limit = app.state.settings.max_body_bytes
    body = b"<TDiep>" + b" " * limit + b"</TDiep>"
    status, reply = post(client, body)
    assert status == 413
    assert reply.ack.reasons[0].code == "T002"


def test_unknown_type_and_bad_envelope(client: TestClient, keyset: KeySet) -> None:
    xml = build_invoice(keyset.seller, number=1)
    status, reply = post(client, envelope([xml], mtype=401))
    assert status == 400 and reply.ack.reasons[0].code == "T004"
    status, reply = post(client, envelope([xml], count=3))
    assert status == 400 and reply.ack.reasons[0].code == "T005"
    status, reply = post(client, envelope([]))
    assert status == 400 and reply.ack.reasons[0].code == "T005"
    two = [xml, build_invoice(keyset.seller, number=2)]
    status, reply = post(client, envelope(two, MessageType.CODING_REQUEST))
    assert status == 400 and reply.ack.reasons[0].code == "T005"


def test_error_notice_300_is_acknowledged(client: TestClient, app) -> None:
    body = tdiep.build_error_notice(
        sender="V0101234567",
        receiver="TCT",
        tax_code=SELLER_MST,
        seller_name="A",
        invoices=[{"MCQTCap": "M1-26-41849-00000000001", "TCTBao": "2", "LDo": "sai biển số"}],
    )
    status, reply = post(client, body)
    assert status == 200 and reply.ack.received and reply.result is None
    assert count(app, MessageRow) == 1


def test_admin_registers_sellers(client: TestClient, keyset: KeySet) -> None:
    created = client.post(
        "/api/admin/sellers",
        json={"tax_code": OTHER_MST, "name": "Other", "cash_register_code": "ab123"},
    )
    assert created.status_code == 201
    assert created.json()["cash_register_code"] == "AB123"
    taken = client.post(
        "/api/admin/sellers",
        json={"tax_code": "0311111111", "name": "Third", "cash_register_code": "AB123"},
    )
    assert taken.status_code == 422
    bad = client.post(
        "/api/admin/sellers", json={"tax_code": "12", "name": "x", "cash_register_code": "AB124"}
    )
    assert bad.status_code == 422
    listed = {s["tax_code"] for s in client.get("/api/admin/sellers").json()}
    assert listed == {SELLER_MST, OTHER_MST}
    # Now the other seller's invoices are accepted (its own certificate).
    xml = build_invoice(
        keyset.other, number=1, seller_mst=OTHER_MST, mccqt=f"M1-{now_local():%y}-AB123-00000000001"
    )
    status, reply = post(client, envelope([xml], tax_code=OTHER_MST))
    assert status == 200
    (result,) = results(reply)
    assert result.accepted, result.reasons


def test_batch_of_about_one_megabyte(client: TestClient, app, keyset: KeySet) -> None:
    limit = app.state.settings.max_body_bytes
    invoices: list[bytes] = []
    # Each invoice loses its XML declaration (39 bytes) inside the envelope.
    while sum(map(len, invoices)) - 39 * len(invoices) < limit + 6_000:
        invoices.append(build_invoice(keyset.seller, number=len(invoices) + 1))
    while len(envelope(invoices[:-1])) > limit:  # a few rounds: the envelope is a bit smaller
        invoices.pop()
    too_big = envelope(invoices)
    fits = envelope(invoices[:-1])
    assert len(fits) <= limit < len(too_big)
    status, reply = post(client, too_big)
    assert status == 413 and reply.ack.reasons[0].code == "T002"
    assert count(app, InvoiceRow) == 0
    status, reply = post(client, fits)
    assert status == 200
    got = results(reply)
    assert len(got) == len(invoices) - 1 > 150
    assert all(r.accepted for r in got)
    assert count(app, InvoiceRow) == len(invoices) - 1
