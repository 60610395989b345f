"""The tax office's public lookup in a real browser, by the portal's fields and a captcha,
on a phone (390x844) and a desktop (1280x900)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page

from einvoice import tdiep
from simulator.tax_authority import create_app
from simulator.tax_authority.captcha import PictureCaptcha
from tests.api.tax_authority.conftest import make_settings, register_demo
from tests.e2e.browser.conftest import serve, shot
from tests.e2e.browser.test_console import VIEWPORTS, fits
from tests.unit.tax_authority.factory import SELLER_MST, build_invoice, envelope, make_keys, series

pytestmark = pytest.mark.e2e
ANSWER = "HX4TR"


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The mock tax authority with two accepted invoices; its captcha's answer is known."""
    tmp = tmp_path_factory.mktemp("tax-office")
    keyset = make_keys(tmp / "keys")
    app = create_app(
        make_settings(tmp),
        countersign=keyset.authority.countersign_authority,
        captcha=PictureCaptcha(answer=lambda: ANSWER),
    )
    register_demo(app)
    with TestClient(app) as client:
        invoices = [
            build_invoice(keyset.seller, number=1, fare=25_000),
            build_invoice(keyset.seller, number=2, fare=40_000),
        ]
        reply = tdiep.parse_reply(client.post("/api/tdiep", content=envelope(invoices)).content)
        assert reply.result is not None
        assert all(r.accepted for r in tdiep.parse_check_result(reply.result))
    with serve(app) as url:
        yield url
    app.state.engine.dispose()


@pytest.fixture(params=sorted(VIEWPORTS))
def office_page(
    request: pytest.FixtureRequest, browser: Any, office: str
) -> Iterator[tuple[Page, str]]:
    context = browser.new_context(
        base_url=office, viewport=VIEWPORTS[request.param], locale="vi-VN"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page, request.param
    context.close()


def _fill(page: Page, number: str, total: str, answer: str) -> None:
    form = page.locator("[data-testid=portal-form]")
    form.locator("input[name=mst]").fill(SELLER_MST)
    form.locator("select[name=template]").select_option("1")
    form.locator("input[name=series]").fill(series())
    form.locator("input[name=number]").fill(number)
    form.locator("input[name=total]").fill(total)
    form.locator("input[name=captcha_answer]").fill(answer)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_lookup_by_the_portal_fields(office_page: tuple[Page, str], tmp_path: Path) -> None:
    page, size = office_page
    page.goto("/tra-cuu")
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.locator("h1").inner_text() == "Tra cứu hóa đơn điện tử"
    image = page.locator("[data-testid=captcha-image]")
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    fits(page)
    shot(page, f"tax-office-lookup-{size}")

    # A wrong captcha: said next to the field, nothing shown, a new picture to read.
    _fill(page, "2", "40.000", "WRONG")
    assert page.locator("#captcha-error").is_visible()
    assert page.locator("[data-testid=found]").count() == 0
    assert page.locator("input[name=mst]").input_value() == SELLER_MST  # kept

    # A wrong total finds nothing, even with the right captcha.
    _fill(page, "2", "41.000", ANSWER)
    assert page.locator("[data-testid=not-found]").is_visible()

    _fill(page, "2", "40.000", ANSWER.lower())
    page.locator("[data-testid=found]").wait_for()
    document = page.locator("article.invoice")
    assert "HÓA ĐƠN GIÁ TRỊ GIA TĂNG" in document.inner_text().upper()
    assert "40.000" in document.inner_text() and "Bốn mươi nghìn đồng" in document.inner_text()
    with page.expect_download() as download:
        page.locator("a[download]").click()
    saved = tmp_path / "invoice.xml"
    download.value.save_as(saved)
    assert b"<HDon" in saved.read_bytes() and b"<SHDon>2</SHDon>" in saved.read_bytes()
    fits(page)
    shot(page, f"tax-office-found-{size}")


def test_officer_search_by_series_and_invoice_code(office_page: tuple[Page, str]) -> None:
    page, size = office_page
    page.goto("/")
    page.locator("input[name=q]").fill(series())
    page.locator("[data-testid=officer-search] button").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=count]").inner_text() == "2 hóa đơn"
    page.locator("input[name=q]").fill(f"1{series()}-00000002")
    page.locator("[data-testid=officer-search] button").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=count]").inner_text() == "1 hóa đơn"
    fits(page)
    page.locator("tbody tr a").first.click()
    page.wait_for_load_state()
    assert page.locator("article.invoice").is_visible() and page.locator("pre.xml").count() == 1
    fits(page)
    shot(page, f"tax-office-invoice-{size}")
