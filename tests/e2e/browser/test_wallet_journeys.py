"""The driver's wallet in Debian's Chromium, at a phone's size and a desktop's: a top-up
through EACH simulated provider end to end (our form with a custom amount -> the provider's own
checkout page -> its signed webhook -> the balance and the statement), a cancelled checkout
shown as failed, an amount out of limits refused next to its field, and an invoice found by
scanning its QR code on a phone that is not signed in. Every page of ours is checked for
overflow and accessibility, and screenshotted (test-artifacts/screenshots)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from billing.services.seed import CENTRAL_LOT
from tests.e2e.browser.checks import SCREENSHOTS, check_page, overflow
from tests.e2e.browser.conftest import Site, now
from tests.e2e.browser.test_driver_journeys import _issue_invoices, sign_in_as

pytestmark = pytest.mark.e2e

# provider -> (what its checkout page shows, the custom amount typed, as the portal prints it)
PROVIDERS = {
    "vnpay-qr": ("[data-testid=qr] svg", "150000", "150.000 ₫"),
    "momo": ("text=Xác nhận thanh toán trong ứng dụng ví", "75.500", "75.500 ₫"),
    "bank-transfer": ("[data-testid=memo]", "1.000.000", "1.000.000 ₫"),
}


def _balance(page: Page) -> int:
    return int(re.sub(r"\D", "", page.inner_text("[data-testid=balance]")))


def _start_top_up(page: Page, provider: str, amount: str) -> None:
    form = page.locator("[data-testid=topup-form]")
    form.locator("#f-other_amount").fill(amount)
    form.locator(f"input[name=provider][value='{provider}']").check()
    form.locator("button[type=submit]").click()


def _provider_page(page: Page, name: str, size: str) -> None:
    """The provider's checkout is not ours (no axe), but a phone must still be able to pay."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
    wide = overflow(page)
    assert wide["scrollWidth"] <= wide["viewport"], wide


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_top_up_through_each_provider(device: tuple[Page, str], site: Site, provider: str) -> None:
    page, size = device
    shows, typed, printed = PROVIDERS[provider]
    sign_in_as(page, "an")
    page.wait_for_url("**/portal")
    before = _balance(page)
    check_page(page, f"40-wallet-{provider}", size)
    _start_top_up(page, provider, typed)

    # The provider's own checkout page (another service), with its way of paying.
    page.wait_for_url(f"**/checkout/{provider}?*")
    assert page.locator("[data-testid=amount]").inner_text() == printed
    assert page.locator(shows).count() >= 1
    _provider_page(page, f"41-checkout-{provider}", size)
    page.click("button.pay")

    # Back on our page: pending until the signed webhook lands, then credited.
    page.wait_for_url("**/portal/topups/NAP*")
    page.wait_for_selector("[data-testid=topup-intent][data-status=credited]", timeout=20_000)
    amount = int(re.sub(r"\D", "", printed))
    assert _balance(page) == before + amount
    assert printed in page.inner_text("[data-testid=topup-status]")
    check_page(page, f"42-credited-{provider}", size)

    page.goto("/portal")
    item = page.locator("[data-testid=topup-intents] li").first
    assert item.locator("[data-status=credited]").count() == 1
    page.goto("/portal/statement")
    line = page.locator("[data-testid=statement] [data-entry]").first
    assert line.locator("[data-testid=change]").inner_text() == f"+{printed}"
    assert line.locator("[data-testid=balance-after]").inner_text() == (
        f"{before + amount:,}".replace(",", ".") + " ₫"
    )
    check_page(page, f"43-statement-{provider}", size)


def test_a_cancelled_checkout_shows_failed_and_takes_nothing(
    device: tuple[Page, str], site: Site
) -> None:
    page, size = device
    sign_in_as(page, "an")
    page.wait_for_url("**/portal")
    before = _balance(page)
    _start_top_up(page, "momo", "200000")
    page.wait_for_url("**/checkout/momo?*")
    page.click("text=Hủy")
    page.wait_for_url("**/portal/topups/NAP*")
    page.wait_for_selector("[data-testid=topup-intent][data-status=failed]", timeout=20_000)
    assert "không thành công" in page.inner_text("[data-testid=topup-status]")
    assert _balance(page) == before
    check_page(page, "44-topup-failed", size)
    page.click("[data-testid=topup-status] a")
    page.wait_for_url("**/portal*")
    assert page.locator("[data-testid=topup-intents] [data-status=failed]").count() == 1


def test_an_amount_out_of_limits_is_refused_next_to_its_field(
    device: tuple[Page, str], site: Site
) -> None:
    page, size = device
    sign_in_as(page, "an")
    page.wait_for_url("**/portal")
    _start_top_up(page, "vnpay-qr", "5.000")
    error = page.locator("#f-other_amount ~ [data-error-for=other_amount]")
    assert error.inner_text() == "Số tiền phải từ 10.000 ₫ đến 10.000.000 ₫."
    assert page.get_attribute("#f-other_amount", "aria-invalid") == "true"
    assert page.input_value("#f-other_amount") == "5.000"
    check_page(page, "45-topup-amount-error", size)


def _decode_qr(page: Page, selector: str, out: Path) -> str:
    """What a phone's camera would read from the QR code on the page. The screenshot's module
    edges are anti-aliased, and OpenCV's classic detector on that picture blown up 3x by
    nearest neighbour (this test's only try before) missed 16 of 1,000 random lookup codes
    rendered so; with the picture as shot and smoothly enlarged too, and the ArUco-based
    detector after the classic one, it missed none. The first reading counts."""
    import cv2

    page.locator(selector).screenshot(path=str(out))
    image = cv2.imread(str(out))
    assert image is not None, out
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        for scale, interpolation in ((1, None), (3, cv2.INTER_LINEAR), (3, cv2.INTER_NEAREST)):
            seen = image
            if interpolation is not None:
                seen = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
            text, _, _ = detector.detectAndDecode(seen)
            if text:
                return str(text)
    raise AssertionError(f"the QR code does not decode ({out})")


def test_an_invoice_is_found_by_scanning_its_qr_code(
    device: tuple[Page, str], site: Site, browser: Any, tmp_path: Path
) -> None:
    page, size = device
    site.settle(CENTRAL_LOT, "entry", "30A-123.45", now() - timedelta(hours=1, minutes=30))
    site.settle(CENTRAL_LOT, "exit", "30A-123.45", now() - timedelta(minutes=5))
    _issue_invoices(site, tmp_path)
    sign_in_as(page, "an")
    page.wait_for_url("**/portal")
    page.goto("/portal/invoices")
    page.locator("[data-invoice-id] .li-title a").first.click()
    page.wait_for_selector("[data-testid=invoice-qr] svg")
    url = _decode_qr(page, "[data-testid=invoice-qr] svg", tmp_path / "qr.png")
    assert re.fullmatch(re.escape(site.url) + r"/tra-cuu\?ma=[\w-]+", url), url

    # Someone else's phone, not signed in, opens what the QR code says.
    from tests.e2e.browser.checks import VIEWPORTS

    ctx = browser.new_context(viewport=VIEWPORTS[size], is_mobile=size == "phone")
    other = ctx.new_page()
    try:
        other.goto(url)
        text = other.inner_text("body")
        assert "HÓA ĐƠN GIÁ TRỊ GIA TĂNG" in text.upper() and "50.000" in text
        assert "30A-123.45" in text
        assert "Tải PDF" in text
        check_page(other, "46-lookup-by-qr", size)
    finally:
        ctx.close()
