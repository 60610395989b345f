"""A driver's journeys in Debian's Chromium, at a phone's size and a desktop's: sign up with a
phone and a plate (the code read from the simulated phone), reset the password, read the
statement, follow a trip to its invoice. Every page is checked for overflow and accessibility,
and screenshotted (test-artifacts/screenshots)."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from billing.services.seed import CENTRAL_LOT
from tests.e2e.browser.checks import check_page
from tests.e2e.browser.conftest import PASSWORD, Site, now

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "a-brand-new-password"


def sms_code(site: Site, phone_e164: str, after: int = 0, timeout_s: float = 10) -> str:
    """The newest code the SMS stub 'sent' to the phone (the app sends it after answering)."""
    from gateway.notices.stub import read_inbox

    inbox = site.settings.data_dir / "notices" / "sms.jsonl"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        mine = [m for m in read_inbox(inbox) if m["recipient"] == phone_e164]
        if len(mine) > after:
            match = re.search(r"\b(\d{6})\b", mine[-1]["body"])
            assert match, mine[-1]
            return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no SMS to {phone_e164} within {timeout_s} s")


def sms_count(site: Site, phone_e164: str) -> int:
    from gateway.notices.stub import read_inbox

    inbox = site.settings.data_dir / "notices" / "sms.jsonl"
    return sum(1 for m in read_inbox(inbox) if m["recipient"] == phone_e164)


def sign_in_as(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("form[action='/login'] button[type=submit]")


def test_sign_up_with_phone_and_plate(device: tuple[Page, str], site: Site) -> None:
    page, size = device
    page.goto("/login")
    check_page(page, "20-login", size)
    page.click("[data-testid=signup-link]")
    page.wait_for_url("**/signup")
    # A first try with mistakes: every error next to its field, what was typed kept.
    page.fill("#f-full_name", "Lê Thị Mai")
    page.fill("#f-phone", "12345")
    page.fill("#f-plate", "29-AA 123.45")  # Bình's plate: registered to another account
    page.fill("#f-password", "short")
    page.click("[data-testid=signup-form] button[type=submit]")
    for name in ("phone", "plate", "password"):
        assert page.locator(f"#f-{name} ~ [data-error-for={name}]").count() == 1, name
    assert "Biển số này đã được đăng ký ở một tài khoản khác" in page.inner_text("main")
    assert page.input_value("#f-full_name") == "Lê Thị Mai"
    check_page(page, "21-signup-errors", size)

    page.fill("#f-phone", "0912 345 678")
    page.fill("#f-plate", "51G-246.80")
    page.select_option("#f-vehicle_class", "car_le9")
    page.fill("#f-password", PASSWORD)
    page.fill("#f-password2", PASSWORD)
    page.click("[data-testid=signup-form] button[type=submit]")
    page.wait_for_url("**/signup/verify?token=*")
    assert "0912 *** 678" in page.inner_text("[data-testid=code-sent]")
    check_page(page, "22-signup-code", size)
    code = sms_code(site, "+84912345678")
    wrong = "000000" if code != "000000" else "111111"
    page.fill("#f-code", wrong)
    page.click("form[action='/signup/verify'] button[type=submit]")
    assert page.locator("[data-error-for=code]").inner_text() == "Mã xác minh không đúng."
    page.fill("#f-code", code)
    page.click("form[action='/signup/verify'] button[type=submit]")
    page.wait_for_url("**/portal?msg=signed_up")
    assert page.locator("[data-testid=balance]").inner_text() == "0 ₫"
    assert "Chào mừng" in page.inner_text("[data-testid=flash]")
    check_page(page, "23-portal-new-driver", size)
    page.goto("/portal/vehicles")
    assert page.locator("[data-vehicle='51G-246.80']").count() == 1

    # The phone number now signs in.
    page.click("[data-testid=sign-out]")
    page.wait_for_url("**/login")
    sign_in_as(page, "+84 912 345 678")
    page.wait_for_url("**/portal")


def test_password_reset_by_code(device: tuple[Page, str], site: Site) -> None:
    from gateway.auth.users import find_user

    page, size = device
    with site.session_factory() as s:
        user = find_user(s, "an")
        assert user is not None
        user.phone = "+84987654321"
        s.commit()
    page.goto("/login")
    page.click("text=Quên mật khẩu?")
    page.fill("#f-phone", "0987.654.321")
    page.click("form[action='/reset'] button[type=submit]")
    page.wait_for_url("**/reset/verify?token=*")
    check_page(page, "24-reset-code", size)
    code = sms_code(site, "+84987654321")
    page.fill("#f-code", code)
    page.fill("#f-password", NEW_PASSWORD)
    page.fill("#f-password2", NEW_PASSWORD + "x")
    page.click("form[action='/reset/verify'] button[type=submit]")
    assert page.locator("[data-error-for=password2]").count() == 1
    page.fill("#f-code", code)
    page.fill("#f-password", NEW_PASSWORD)
    page.fill("#f-password2", NEW_PASSWORD)
    page.click("form[action='/reset/verify'] button[type=submit]")
    page.wait_for_url("**/login?msg=password_changed")
    sign_in_as(page, "an")
    assert page.locator("[data-error-for=password]").count() == 1  # the old one is gone
    sign_in_as(page, "0987 654 321", NEW_PASSWORD)
    page.wait_for_url("**/portal")


def _issue_invoices(site: Site, tmp_path: Path) -> None:
    from billing.adapters import outbox
    from einvoice.keys import ensure_demo_keys
    from einvoice.maker import XmlInvoiceMaker
    from einvoice.signing import Signer
    from einvoice.worker import InvoiceWorker

    keys = ensure_demo_keys(tmp_path / "keys", "0109876543")
    maker = XmlInvoiceMaker(Signer.from_pkcs12(keys.seller_pkcs12, keys.password))
    InvoiceWorker(site.session_factory, maker, outbox=outbox).run_once()


def _notices(site: Site) -> Any:
    from gateway.notices.stub import StubSender
    from gateway.notices.worker import NoticeWorker

    inbox = site.settings.data_dir / "notices"
    return NoticeWorker(
        site.session_factory,
        {"sms": StubSender(inbox / "sms.jsonl"), "push": StubSender(inbox / "push.jsonl")},
    )


def test_statement_trips_invoice_and_notices(
    device: tuple[Page, str], site: Site, tmp_path: Path
) -> None:
    site.settle(CENTRAL_LOT, "entry", "30A-123.45", now() - timedelta(hours=1, minutes=30))
    site.settle(CENTRAL_LOT, "exit", "30A-123.45", now() - timedelta(minutes=5))
    _issue_invoices(site, tmp_path)
    _notices(site).run_once()  # the trip's receipt
    page, size = device
    sign_in_as(page, "an")
    page.wait_for_url("**/portal")
    check_page(page, "25-portal", size)

    page.goto("/portal/statement")
    lines = page.locator("[data-testid=statement] [data-entry]")
    assert lines.count() >= 2
    first = lines.first  # newest: the fare
    assert first.locator("[data-testid=change]").inner_text() == "-50.000 ₫"
    assert first.locator("[data-testid=balance-after]").inner_text() == "450.000 ₫"
    assert lines.nth(1).locator("[data-testid=balance-after]").inner_text() == "500.000 ₫"
    check_page(page, "26-statement", size)

    page.goto("/portal/trips")
    check_page(page, "27-trips", size)
    page.click("[data-testid=trip-invoice]")
    page.wait_for_url(re.compile(r".*/portal/invoices/\d+$"))
    assert page.locator("[data-testid=invoice-qr] svg").count() == 1
    assert "50.000 ₫" in page.inner_text("main")
    check_page(page, "28-invoice", size)

    page.goto("/portal/notices")
    notice = page.locator("[data-notice=trip_receipt]").first
    assert "Đã thu 50.000 ₫" in notice.inner_text() and "30A-123.45" in notice.inner_text()
    check_page(page, "29-notices", size)
    for path, name in (("/portal/vehicles", "30-vehicles"), ("/portal/settings", "31-settings")):
        page.goto(path)
        check_page(page, name, size)


def test_phone_menu_collapses_and_sign_out_stays_visible(
    device: tuple[Page, str], site: Site
) -> None:
    page, size = device
    sign_in_as(page, "an")
    page.wait_for_url("**/portal")
    assert page.locator("[data-testid=sign-out]").is_visible()
    menu_link = page.locator("#site-menu nav a[href='/portal/statement']")
    if size == "phone":
        assert not menu_link.is_visible()
        page.click("[data-testid=menu-toggle]")
        assert menu_link.is_visible()
        assert page.get_attribute("[data-testid=menu-toggle]", "aria-expanded") == "true"
        check_page(page, "32-menu-open", size)
        menu_link.click()
        page.wait_for_url("**/portal/statement")
    else:
        assert menu_link.is_visible()
        assert not page.locator("[data-testid=menu-toggle]").is_visible()


def test_a_crafted_err_link_shows_nothing_of_its_text(device: tuple[Page, str], site: Site) -> None:
    page, _ = device
    bait = "Tài khoản bị khóa. Vui lòng chuyển 500.000đ vào STK 0123456789"
    page.goto(f"/login?err={bait}")
    assert "0123456789" not in page.content()
    sign_in_as(page, "an")
    page.wait_for_url("**/portal")
    page.goto(f"/portal?err={bait}&msg={bait}")
    assert "0123456789" not in page.content() and "STK" not in page.inner_text("body")
    # A known code from a link is fine: it is our own sentence.
    page.goto("/portal?msg=payment_done")
    assert page.inner_text("[data-testid=flash]") == "Nạp tiền thành công."
