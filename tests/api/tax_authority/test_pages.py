"""The tax office's pages render what the authority received, and search finds it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from einvoice import tdiep
from tests.unit.tax_authority.factory import (
    SELLER_MST,
    KeySet,
    build_invoice,
    envelope,
    now_local,
    set_text,
)


def _send(client: TestClient, invoices: list[bytes]) -> list[tdiep.InvoiceResult]:
    response = client.post("/api/tdiep", content=envelope(invoices))
    reply = tdiep.parse_reply(response.content)
    assert reply.result is not None
    return list(tdiep.parse_check_result(reply.result))


def _seed(client: TestClient, keyset: KeySet) -> list[tdiep.InvoiceResult]:
    business = {
        "account_id": 9,
        "kind": "business",
        "name": "Công ty CP Vận tải Sao Mai",
        "tax_code": "0107777777",
        "address": "5 Láng Hạ, Hà Nội",
    }
    return _send(
        client,
        [
            build_invoice(keyset.seller, number=1, fare=25_000),
            build_invoice(keyset.seller, number=2, fare=40_000, buyer=business),
            build_invoice(
                keyset.seller,
                number=3,
                mutate=set_text("DLHDon/NDHDon/TToan/TgTTTBChu", "Một trăm đồng"),
            ),
        ],
    )


def test_invoice_list_filters_and_search(client: TestClient, keyset: KeySet) -> None:
    results = _seed(client, keyset)
    assert [r.accepted for r in results] == [True, True, False]
    page = client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert results[0].mccqt in page.text and results[1].mccqt in page.text
    assert "2 invoice(s)" in page.text

    by_buyer = client.get("/", params={"q": "Sao Mai"})
    assert results[1].mccqt in by_buyer.text and results[0].mccqt not in by_buyer.text
    by_code = client.get("/", params={"q": results[0].mccqt})
    assert "1 invoice(s)" in by_code.text and results[0].mccqt in by_code.text
    by_seller = client.get("/", params={"seller": SELLER_MST, "date": now_local().date()})
    assert "2 invoice(s)" in by_seller.text
    by_person = client.get("/", params={"q": "Nguyễn Văn An"})
    assert results[0].mccqt in by_person.text and results[1].mccqt not in by_person.text
    nothing = client.get("/", params={"seller": "0000000000"})
    assert "No invoice matches." in nothing.text


def test_detail_and_lookup_show_signature_and_xml(client: TestClient, keyset: KeySet) -> None:
    results = _seed(client, keyset)
    code = results[0].mccqt
    assert code is not None
    detail = client.get(f"/invoices/{code}")
    assert detail.status_code == 200
    assert "valid" in detail.text and SELLER_MST in detail.text
    assert "rsa-sha256" in detail.text
    assert "&lt;HDon&gt;" in detail.text  # the original XML, escaped
    assert "25.000" in detail.text
    lookup = client.get("/lookup", params={"code": code})
    assert lookup.status_code == 200 and "holds this invoice" in lookup.text
    missing = client.get("/lookup", params={"code": "M1-26-41849-99999999999"})
    assert missing.status_code == 404 and "No invoice with code" in missing.text
    xml = client.get(f"/invoices/{code}/xml")
    assert xml.status_code == 200 and code.encode() in xml.content


def test_totals_per_seller_and_rejections(client: TestClient, keyset: KeySet) -> None:
    _seed(client, keyset)
    client.post("/api/tdiep", content=b"<broken")
    sellers = client.get("/sellers")
    assert sellers.status_code == 200
    assert "65.000" in sellers.text  # 25,000 + 40,000 accepted
    assert f"/?seller={SELLER_MST}&date={now_local().date()}" in sellers.text
    rejections = client.get("/rejections")
    assert "E111" in rejections.text and "AMOUNT_IN_WORDS_WRONG" in rejections.text
    assert "T001" in rejections.text
    only_seller = client.get("/rejections", params={"seller": SELLER_MST})
    assert "E111" in only_seller.text and "T001" not in only_seller.text
    detail = client.get("/rejections/1")
    assert detail.status_code == 200 and "TgTTTBChu" in detail.text
    codes = client.get("/errors")
    assert "E107" in codes.text and "NUMBER_NOT_ASCENDING" in codes.text
    assert client.get("/static/style.css").status_code == 200
