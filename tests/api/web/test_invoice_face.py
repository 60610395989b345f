"""Invoices people can read, and the public lookup by the random code printed on them."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from billing.services.seed import CENTRAL_LOT
from einvoice.lookup_codes import ALPHABET, format_lookup_code, normalize_lookup_code
from gateway.app import create_app
from gateway.ratelimit import SlidingWindowLimit
from tests.api.web.conftest import Env, invoice_maker, issue_invoices  # noqa: F401
from tests.api.web.helpers import stay

PUBLIC = "https://gui-xe.example.vn"


@pytest.fixture()
def invoiced(world: Env, invoice_maker: object) -> Env:  # noqa: F811
    stay(world, CENTRAL_LOT, "30A-123.45", hours=2.25)
    assert issue_invoices(world, invoice_maker) == 1
    return world


def _only_invoice(env: Env) -> dict[str, object]:
    r = env.client.get("/api/v1/invoices", headers=env.auth("driver"))
    (item,) = r.json()["items"]
    return dict(item)


def _event_id(env: Env) -> str:
    from einvoice.db import invoices

    with env.session_factory() as s:
        return str(s.execute(invoices.select()).one().event_id)


def test_the_face_of_the_invoice_is_in_vietnamese_without_internal_ids(invoiced: Env) -> None:
    item = _only_invoice(invoiced)
    page = invoiced.client.get(
        f"/api/v1/invoices/{item['id']}/html", headers=invoiced.auth("driver")
    ).text
    assert _event_id(invoiced) not in page  # the hex gate event id
    assert "Mã sự kiện" not in page and "Mã phiên" not in page and "Mã khách hàng" not in page
    account = str(item["buyer_account_id"])
    assert f"Mã khách hàng: {account}" not in page
    assert "Loại xe: ô tô đến 9 chỗ" in page and "car_le9" not in page
    assert re.search(r"Giờ vào: \d\d/\d\d/20\d\d \d\d:\d\d<", page), page
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", page)  # no ISO time anywhere
    assert "Trạng thái: Đã ký, chờ gửi cơ quan thuế" in page and ": signed" not in page
    # A person has no tax code: no empty "Mã số thuế:" for the buyer.
    buyer = page[
        page.index("<h2>Người mua</h2>") : page.index("</section>", page.index("Người mua"))
    ]
    assert "Mã số thuế" not in buyer
    code = format_lookup_code(str(item["lookup_code"]))
    assert f'Mã tra cứu: <strong class="lookup-code">{code}</strong>' in page


def test_the_pdf_reads_the_same(invoiced: Env) -> None:
    from pypdf import PdfReader

    item = _only_invoice(invoiced)
    r = invoiced.client.get(f"/api/v1/invoices/{item['id']}/pdf", headers=invoiced.auth("driver"))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert _event_id(invoiced) not in text and "car_le9" not in text
    assert "ô tô đến 9 chỗ" in text and "Mã tra cứu" in text
    assert "Mã số thuế:" in text  # the seller's
    assert text.count("Mã số thuế") == 1  # not the buyer's (a person)
    assert "Trạng thái: Đã ký" in text


@pytest.fixture()
def public_client(invoiced: Env, tmp_path: Path) -> Iterator[TestClient]:
    settings = invoiced.settings.model_copy(update={"public_url": PUBLIC, "lookup_per_minute": 4})
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_qr_code_uses_the_public_url(invoiced: Env, public_client: TestClient) -> None:
    import segno

    item = _only_invoice(invoiced)
    token = invoiced.token("driver")
    detail = public_client.get(
        f"/api/v1/invoices/{item['id']}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    code = format_lookup_code(str(item["lookup_code"]))
    expected = f"{PUBLIC}/tra-cuu?ma={code}"
    assert detail["lookup_url"] == expected
    page = public_client.get(
        f"/api/v1/invoices/{item['id']}/html", headers={"Authorization": f"Bearer {token}"}
    ).text
    assert str(segno.make(expected, error="m").svg_inline(scale=3, border=2)) in page
    assert "127.0.0.1" not in page
    # Unset, the QR code follows the address the request came in on (not a loopback default).
    plain = invoiced.client.get(f"/api/v1/invoices/{item['id']}", headers=invoiced.auth("driver"))
    assert plain.json()["lookup_url"].startswith("http://testserver/tra-cuu?ma=")


def test_anyone_with_the_code_reads_the_invoice(invoiced: Env, public_client: TestClient) -> None:
    item = _only_invoice(invoiced)
    code = str(item["lookup_code"])
    typed = format_lookup_code(code).lower().replace("-", " ")  # as a person may type it
    r = public_client.get("/tra-cuu", params={"ma": typed})
    assert r.status_code == 200 and "30A-123.45" in r.text and "Tải PDF" in r.text
    assert r.headers["cache-control"] == "no-store"
    pdf = public_client.get(f"/tra-cuu/{code}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xml = public_client.get(f"/tra-cuu/{code}.xml")
    assert xml.status_code == 200 and b"<HDon" in xml.content
    missing = public_client.get("/tra-cuu", params={"ma": "00000-00000"})
    assert missing.status_code == 404 and "Không có hóa đơn nào" in missing.text
    assert "30A-123.45" not in missing.text


def test_lookups_are_limited_per_address(invoiced: Env, public_client: TestClient) -> None:
    answers = [
        public_client.get("/tra-cuu", params={"ma": f"AAAAA-AAAA{n}"}).status_code for n in range(6)
    ]
    assert answers[:4] == [404] * 4 and answers[4:] == [429, 429]
    refused = public_client.get(
        "/tra-cuu", params={"ma": str(_only_invoice(invoiced)["lookup_code"])}
    )
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "30A-123.45" not in refused.text and "quá nhiều lần" in refused.text


def test_lookup_codes_are_random_and_read_leniently() -> None:
    from einvoice.lookup_codes import new_lookup_code

    codes = {new_lookup_code() for _ in range(2000)}
    assert len(codes) == 2000  # 50 random bits: no repeats, no order to walk through
    assert all(len(c) == 10 and set(c) <= set(ALPHABET) for c in codes)
    one = sorted(codes)[0]
    assert normalize_lookup_code(format_lookup_code(one).lower()) == one
    assert normalize_lookup_code("7kq2m x9d4p") == "7KQ2MX9D4P"
    assert normalize_lookup_code("OIL00-00000") == "0110000000"
    for bad in ("", "7KQ2M", "7KQ2M-X9D4PZ", "UUUUU-UUUUU", "<script>"):
        assert normalize_lookup_code(bad) is None


def test_sliding_window_limit_forgets_old_hits_and_old_addresses() -> None:
    now = [0.0]
    limit = SlidingWindowLimit(2, 60, max_keys=3, clock=lambda: now[0])
    assert [limit.hit("a").allowed for _ in range(3)] == [True, True, False]
    assert limit.hit("a").retry_after_s == 60
    now[0] = 61
    assert limit.hit("a").allowed
    for key in ("b", "c", "d", "e"):
        limit.hit(key)
    assert len(limit._hits) == 3 and "a" not in limit._hits
