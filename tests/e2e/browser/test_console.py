"""The operator console in a real browser, on a phone (390x844) and a desktop (1280x900):
search passages, sessions and invoices by plate, days, lot and invoice code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page

from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from tests.e2e.browser.conftest import Site, now, shot, sign_in

pytestmark = pytest.mark.e2e

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture(params=sorted(VIEWPORTS))
def sized(request: pytest.FixtureRequest, browser: Any, site: Site) -> Iterator[tuple[Page, str]]:
    context = browser.new_context(
        base_url=site.url,
        viewport=VIEWPORTS[request.param],
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page, request.param
    context.close()


def fits(page: Page) -> None:
    """Nothing wider than the screen: no sideways scrolling of the whole page."""
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{page.url} is {width} px wide in a {inner} px window"


def issue_invoices(site: Site) -> None:
    from billing.adapters import outbox
    from einvoice.keys import ensure_demo_keys
    from einvoice.maker import XmlInvoiceMaker
    from einvoice.signing import Signer
    from einvoice.worker import InvoiceWorker

    keys = ensure_demo_keys(site.settings.data_dir / "keys", "0109876543")
    maker = XmlInvoiceMaker(Signer.from_pkcs12(keys.seller_pkcs12, keys.password))
    InvoiceWorker(site.session_factory, maker, outbox=outbox).run_once()


def test_operator_finds_a_car_by_plate_day_and_invoice(sized: tuple[Page, str], site: Site) -> None:
    page, size = sized
    day = now() - timedelta(days=2)
    site.settle(CENTRAL_LOT, "entry", "30A-123.45", day - timedelta(hours=2))
    site.settle(CENTRAL_LOT, "exit", "30A-123.45", day)
    site.settle(CENTRAL_LOT, "entry", "29C-456.78", now() - timedelta(hours=3))
    site.settle(CENTRAL_LOT, "exit", "29C-456.78", now() - timedelta(hours=1))
    site.settle(AIRPORT_LOT, "entry", "30A-123.45", now() - timedelta(hours=1))
    issue_invoices(site)

    sign_in(page, "op-central")
    page.wait_for_url("**/dashboard")
    fits(page)
    assert page.locator("select[name=lot_id] option").first.inner_text() == "Tất cả các bãi"

    # Passages: part of the plate, as the customer reads it out on the phone.
    page.goto("/dashboard/passages")
    form = page.locator("[data-testid=search-form]")
    form.locator("input[name=plate]").fill("123.45")
    local_day = day.astimezone(site_zone()).date().isoformat()
    form.locator("input[name=day_from]").fill(local_day)
    form.locator("input[name=day_to]").fill(local_day)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**plate=123.45**")
    rows = page.locator("#feed tr")
    assert rows.count() == 2  # its entry and exit that day; the airport is not this operator's
    assert "29C-456.78" not in page.locator("#feed").inner_text()
    assert page.locator("[data-testid=live]").count() == 0
    fits(page)
    shot(page, f"console-passages-search-{size}")

    # Sessions: the stay, its fare and a link to its invoice.
    page.goto("/dashboard/sessions")
    page.locator("input[name=plate]").fill("30a12345")
    page.locator("[data-testid=search-form] button[type=submit]").click()
    page.wait_for_url("**plate=30a12345**")
    stay = page.locator("[data-testid=sessions] tbody tr")
    assert stay.count() == 1 and "30A-123.45" in stay.inner_text()
    link = stay.locator("a", has_text="Hóa đơn")
    assert link.count() == 1
    fits(page)
    shot(page, f"console-sessions-search-{size}")

    # Invoices: by the code printed on it.
    page.goto("/dashboard/invoices")
    codes = page.locator("[data-testid=invoices] tbody tr td:first-child")
    assert codes.count() == 2
    wanted = codes.first.inner_text().split()[0]
    page.locator("input[name=code]").fill(wanted.lower())
    page.locator("[data-testid=search-form] button[type=submit]").click()
    page.wait_for_url("**code=**")
    found = page.locator("[data-testid=invoices] tbody tr")
    assert found.count() == 1 and wanted in found.inner_text()
    fits(page)
    shot(page, f"console-invoices-search-{size}")

    # A wrong date is said next to its field.
    page.goto("/dashboard/sessions?day_from=2026-02-31")
    assert page.locator("#day_from-error").is_visible()
    fits(page)


def site_zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Ho_Chi_Minh")
