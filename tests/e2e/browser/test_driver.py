"""A driver in a real browser: sign in, top up, download an invoice whose XML verifies."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page

from billing.adapters import outbox as billing_outbox
from billing.services.seed import CENTRAL_LOT
from tests.e2e.browser.conftest import Site, now, shot, sign_in

pytestmark = pytest.mark.e2e


def _issue_invoices(site: Site, tmp_path: Path) -> None:
    from einvoice.keys import ensure_demo_keys
    from einvoice.maker import XmlInvoiceMaker
    from einvoice.signing import Signer
    from einvoice.worker import InvoiceWorker

    keys = ensure_demo_keys(tmp_path / "keys", "0109876543")
    maker = XmlInvoiceMaker(Signer.from_pkcs12(keys.seller_pkcs12, keys.password))
    results = InvoiceWorker(site.session_factory, maker, outbox=billing_outbox).run_once()
    assert [r.outcome for r in results] == ["issued"]


def test_driver_tops_up_and_downloads_a_verified_invoice(
    page: Page, site: Site, tmp_path: Path
) -> None:
    from einvoice.verify import verify_invoice

    site.settle(CENTRAL_LOT, "entry", "30A-123.45", now() - timedelta(hours=1, minutes=30))
    site.settle(CENTRAL_LOT, "exit", "30A-123.45", now() - timedelta(minutes=5))
    _issue_invoices(site, tmp_path)

    sign_in(page, "an")
    page.wait_for_url("**/portal")
    balance = page.locator("[data-testid=balance]")
    assert balance.inner_text() == "450.000 ₫"
    shot(page, "10-portal")

    form = page.locator("[data-testid=topup-form]")
    form.locator("input[name=amount_vnd][value='200000']").check()
    form.locator("input[name=provider][value='vnpay-qr']").check()
    form.locator("button[type=submit]").click()
    # The provider's own checkout page (another service): the driver confirms there.
    page.wait_for_selector("[data-testid=qr]")
    assert page.locator("[data-testid=amount]").inner_text() == "200.000 ₫"
    shot(page, "11-provider-checkout")
    page.click("button.pay")
    page.wait_for_url("**/portal/topups/*")
    page.wait_for_selector("[data-testid=topup-intent][data-status=credited]", timeout=15_000)
    assert page.locator("[data-testid=balance]").inner_text() == "650.000 ₫"
    shot(page, "12-portal-topped-up")

    page.goto("/portal/trips")
    assert "30A-123.45" in page.content() and "50.000 ₫" in page.content()
    shot(page, "13-trips")

    page.goto("/portal/invoices")
    card = page.locator("[data-invoice-id]").first
    shot(page, "14-invoices")
    with page.expect_download() as info:
        card.locator("a", has_text="XML").click()
    download = info.value
    assert re.fullmatch(r"1C26\w+-\d{8}\.xml", download.suggested_filename)
    xml = Path(download.path()).read_bytes()
    report = verify_invoice(xml)
    assert report.valid, report.error
    assert any(sig.role == "seller" and sig.valid for sig in report.signatures)
    with page.expect_download() as info:
        card.locator("a", has_text="PDF").click()
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF")
    card.locator(".li-title a").click()  # the invoice's own page, with the lookup QR code
    page.wait_for_selector("[data-testid=invoice-qr] svg")
    page.goto(card.locator("a", has_text="HTML").get_attribute("href") or "")
    assert "50.000" in page.content()
    shot(page, "15-invoice-html")
