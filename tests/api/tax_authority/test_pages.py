"""The tax office's pages render what the authority received, and search finds it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from einvoice import tdiep
from tests.unit.tax_authority.factory import (
    SELLER_MST,
    KeySet,
    build_invoice,
    envelope,
    now_local,
    series,
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
    assert "2 hóa đơn" in page.text

    by_buyer = client.get("/", params={"q": "Sao Mai"})
    assert results[1].mccqt in by_buyer.text and results[0].mccqt not in by_buyer.text
    by_code = client.get("/", params={"q": results[0].mccqt})
    assert "1 hóa đơn" in by_code.text and results[0].mccqt in by_code.text
    by_seller = client.get("/", params={"seller": SELLER_MST, "date": now_local().date()})
    assert "2 hóa đơn" in by_seller.text
    by_person = client.get("/", params={"q": "Nguyễn Văn An"})
    assert results[0].mccqt in by_person.text and results[1].mccqt not in by_person.text
    nothing = client.get("/", params={"seller": "0000000000"})
    assert "Không có hóa đơn nào phù hợp." in nothing.text


def test_search_by_series_invoice_code_and_plate(client: TestClient, keyset: KeySet) -> None:
    results = _seed(client, keyset)
    symbol = series()  # e.g. C26MPK
    by_series = client.get("/", params={"q": symbol})
    assert "2 hóa đơn" in by_series.text
    for typed in (f"1{symbol}-00000002", f"1/{symbol}/2", f"{symbol}-2", f"1{symbol.lower()}-2"):
        found = client.get("/", params={"q": typed})
        assert "1 hóa đơn" in found.text, typed
        assert results[1].mccqt in found.text and results[0].mccqt not in found.text
    for plate in ("30A-123.45", "30a12345", "123.45"):
        assert "2 hóa đơn" in client.get("/", params={"q": plate}).text, plate
    assert "0 hóa đơn" in client.get("/", params={"q": "99Z-999.99"}).text


def test_detail_shows_the_invoice_as_a_document_beside_its_xml(
    client: TestClient, keyset: KeySet
) -> None:
    results = _seed(client, keyset)
    code = results[0].mccqt
    assert code is not None
    detail = client.get(f"/invoices/{code}")
    assert detail.status_code == 200
    assert "hợp lệ" in detail.text and SELLER_MST in detail.text
    assert "rsa-sha256" in detail.text
    assert "&lt;HDon&gt;" in detail.text  # the original XML, escaped
    assert '<article class="invoice">' in detail.text  # and the same invoice, readable
    assert 'Tổng tiền thanh toán: <span class="amount">25.000</span>' in detail.text
    assert "Số tiền viết bằng chữ" in detail.text and "Mã sự kiện" not in detail.text
    missing = client.get("/invoices/M1-26-41849-99999999999")
    assert missing.status_code == 404 and "chưa nhận hóa đơn nào" in missing.text
    xml = client.get(f"/invoices/{code}/xml")
    assert xml.status_code == 200 and code.encode() in xml.content


def test_pages_are_in_vietnamese(client: TestClient, keyset: KeySet) -> None:
    results = _seed(client, keyset)
    english = re.compile(
        r">\s*(Invoices received|Totals per seller|Rejections|Error codes|Look up|Seller|Buyer|"
        r"Filter|Issue date|Received|previous|next|No invoice matches)\b"
    )
    for path in ("/", "/sellers", "/rejections", "/errors", "/tra-cuu", "/rejections/1",
                 f"/invoices/{results[0].mccqt}"):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 200, path
        assert '<html lang="vi">' in page.text, path
        assert not english.search(page.text), (path, english.search(page.text))
    assert "Số tiền viết bằng chữ không đúng" in client.get("/errors").text


def test_totals_per_seller_and_rejections(client: TestClient, keyset: KeySet) -> None:
    _seed(client, keyset)
    client.post("/api/tdiep", content=b"<broken")
    sellers = client.get("/sellers")
    assert sellers.status_code == 200
    assert "65.000" in sellers.text  # 25,000 + 40,000 accepted
    assert f"/?seller={SELLER_MST}&date={now_local().date()}" in sellers.text
    rejections = client.get("/rejections")
    assert "E111" in rejections.text and "Số tiền viết bằng chữ" in rejections.text
    assert "T001" in rejections.text
    only_seller = client.get("/rejections", params={"seller": SELLER_MST})
    assert "E111" in only_seller.text and "T001" not in only_seller.text
    detail = client.get("/rejections/1")
    assert detail.status_code == 200 and "TgTTTBChu" in detail.text
    codes = client.get("/errors")
    assert "E107" in codes.text and "NUMBER_NOT_ASCENDING" in codes.text
    assert client.get("/static/style.css").status_code == 200
