"""Company buyers in the driver portal: the invoice details form (tax code as the tax authority
writes it, each error next to its field, in the catalogue's words), then the account's invoices
carry the company and its tax code, and the monthly option keeps its trips for one invoice."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from lxml import etree
from sqlalchemy import select

from billing.adapters import orm as b
from billing.services.seed import CENTRAL_LOT
from einvoice.db import invoices, monthly_items
from gateway.web.driver_invoicing import normalize_tax_code
from tests.api.web.conftest import PASSWORD, Env, issue_invoices
from tests.api.web.helpers import stay

COMPANY = {
    "buyer_kind": "company",
    "company_name": "Công ty TNHH Vận tải Sao Mai",
    "tax_code": "0312345678 001",
    "company_address": "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
    "invoice_email": "ketoan@saomai.vn",
}


def _sign_in(env: Env) -> None:
    env.client.post("/login", data={"username": "driver", "password": PASSWORD})


def _account(env: Env) -> b.TransportAccount:
    with env.session_factory() as s:
        acct = s.get(b.TransportAccount, env.demo.accounts["an"])  # type: ignore[attr-defined]
        assert acct is not None
        s.expunge(acct)
        return acct


def _error_for(page: str, field: str) -> str:
    found = re.search(rf'data-error-for="{field}">([^<]*)<', page)
    assert found, f"no error next to {field}"
    return found.group(1)


def test_tax_codes_are_read_as_people_type_them() -> None:
    assert normalize_tax_code("0101234567") == "0101234567"
    assert normalize_tax_code(" 0101234567-001 ") == "0101234567-001"
    assert normalize_tax_code("0101234567 001") == "0101234567-001"
    assert normalize_tax_code("0101234567001") == "0101234567-001"
    assert normalize_tax_code("010123456") == "010123456"  # refused later: 9 digits


def test_the_form_puts_each_error_next_to_its_field_in_vietnamese(world: Env) -> None:
    _sign_in(world)
    r = world.client.post(
        "/portal/invoicing",
        data={
            "buyer_kind": "company",
            "company_name": "",
            "tax_code": "01012345",
            "company_address": "",
            "invoice_email": "not-an-email",
            "monthly": "on",
        },
    )
    assert r.status_code == 422
    page = r.text
    assert _error_for(page, "company_name") == "Vui lòng nhập tên công ty."
    assert _error_for(page, "tax_code").startswith("Mã số thuế gồm 10 chữ số")
    assert _error_for(page, "company_address").startswith("Vui lòng nhập địa chỉ công ty")
    assert _error_for(page, "invoice_email") == "Địa chỉ email không hợp lệ."
    assert 'value="01012345"' in page  # what was typed stays
    assert _account(world).kind == "person"  # nothing saved
    # A person cannot take the monthly invoice.
    r = world.client.post("/portal/invoicing", data={"buyer_kind": "person", "monthly": "on"})
    assert r.status_code == 422
    assert _error_for(r.text, "monthly").startswith("Hóa đơn gộp theo tháng chỉ xuất cho công ty")


def test_a_company_buyers_invoices_carry_its_tax_code_and_email(
    world: Env, invoice_maker: object
) -> None:
    _sign_in(world)
    r = world.client.post("/portal/invoicing", data=COMPANY, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("msg=invoicing_saved")
    acct = _account(world)
    assert (acct.kind, acct.tax_code, acct.invoice_email) == (
        "business",
        "0312345678-001",
        "ketoan@saomai.vn",
    )
    page = world.client.get("/portal/settings").text
    assert 'value="0312345678-001"' in page and 'value="ketoan@saomai.vn"' in page

    stay(world, CENTRAL_LOT, "30A-123.45")
    assert issue_invoices(world, invoice_maker) == 1
    with world.session_factory() as s:
        row = s.execute(select(invoices)).one()
    assert (row.buyer_tax_code, row.buyer_email) == ("0312345678-001", "ketoan@saomai.vn")
    buyer = etree.fromstring(row.xml).find(".//NMua")
    assert buyer is not None
    assert buyer.findtext("Ten") == "Công ty TNHH Vận tải Sao Mai"
    assert buyer.findtext("MST") == "0312345678-001"
    assert buyer.findtext("DChi") == "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh"


def test_the_monthly_option_keeps_trips_for_the_months_invoice(
    world: Env, invoice_maker: object
) -> None:
    _sign_in(world)
    r = world.client.post(
        "/portal/invoicing", data={**COMPANY, "monthly": "on"}, follow_redirects=False
    )
    assert r.status_code == 303
    stay(world, CENTRAL_LOT, "30A-123.45")
    assert issue_invoices(world, invoice_maker) == 0  # no invoice of its own
    with world.session_factory() as s:
        assert s.execute(select(invoices.c.id)).all() == []
        [item] = s.execute(select(monthly_items)).all()
    assert item.invoice_id is None and item.total_vnd == 50_000
    page = world.client.get("/portal/invoices").text
    assert "1 lượt gửi xe (50.000 ₫) sẽ được gộp vào hóa đơn tháng" in page
    # After the month: one invoice, and the trip links to it.
    from einvoice.monthly import issue_month

    month_end = datetime.now(UTC) + timedelta(days=32)
    [result] = issue_month(
        world.session_factory,
        invoice_maker,  # type: ignore[arg-type]
        item.period,
        clock=lambda: month_end,
    )
    assert result.outcome == "issued" and result.invoice_id is not None
    assert 'data-testid="monthly-waiting"' not in world.client.get("/portal/invoices").text
    trips = world.client.get("/portal/trips").text
    assert f'href="/portal/invoices/{result.invoice_id}"' in trips
    # Back to a person: later trips are invoiced one by one again, to the driver's name.
    r = world.client.post(
        "/portal/invoicing", data={"buyer_kind": "person"}, follow_redirects=False
    )
    assert r.status_code == 303
    acct = _account(world)
    assert (acct.kind, acct.tax_code, acct.invoice_monthly) == ("person", None, False)
    assert acct.name and acct.name != COMPANY["company_name"]


def test_the_api_sets_the_same_invoice_details(world: Env) -> None:
    an = world.demo.accounts["an"]  # type: ignore[attr-defined]
    binh = world.demo.accounts["binh"]  # type: ignore[attr-defined]
    url = f"/api/v1/accounts/{an}/invoicing"
    body = {
        "buyer": "company",
        "company_name": "Công ty TNHH Vận tải Sao Mai",
        "tax_code": "0312345678-001",
        "address": "12 Lê Lợi, Quận 1",
        "invoice_email": "ketoan@saomai.vn",
        "monthly": True,
    }
    r = world.client.put(url, json=body, headers=world.auth("driver"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["kind"], out["tax_code"], out["invoice_email"], out["invoice_monthly"]) == (
        "business",
        "0312345678-001",
        "ketoan@saomai.vn",
        True,
    )
    for wrong in ({"tax_code": "031234567"}, {"invoice_email": "x"}, {"company_name": None}):
        bad = world.client.put(url, json={**body, **wrong}, headers=world.auth("driver"))
        assert bad.status_code == 422, wrong
    person_monthly = {"buyer": "person", "monthly": True}
    assert (
        world.client.put(url, json=person_monthly, headers=world.auth("driver")).status_code == 422
    )
    other = world.client.put(
        f"/api/v1/accounts/{binh}/invoicing", json=body, headers=world.auth("driver")
    )
    assert other.status_code in (403, 404) and str(binh) not in other.text
    # The admin's account page shows where the invoices go.
    world.client.post("/login", data={"username": "admin", "password": PASSWORD})
    page = world.client.get(f"/admin/accounts/{an}").text
    assert 'data-testid="invoice-email">ketoan@saomai.vn<' in page
    assert 'data-testid="invoice-monthly"' in page
