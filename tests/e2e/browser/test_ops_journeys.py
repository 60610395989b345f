"""The operator's review queue, plate lists and alerts in Chromium, on a phone (390x844) and a
desktop (1280x900): every page fits its screen and passes axe (checks.check_page)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from billing.services.seed import CENTRAL_LOT
from gateway.alerts.conditions import Thresholds
from gateway.alerts.monitor import AlertMonitor
from tests.e2e.browser.checks import check_page
from tests.e2e.browser.conftest import PASSWORD, Site, now

pytestmark = pytest.mark.e2e


def enter(page: Any) -> None:
    """Sign in; the dashboard's charts load on (Plotly), the journeys go on at its HTML."""
    page.set_default_timeout(45_000)  # a shared 2-core machine under load
    page.goto("/login")
    page.fill("#f-username", "op-central")
    page.fill("#f-password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/dashboard", wait_until="domcontentloaded")


def test_review_filter_zoom_and_charge_with_the_suggested_fare(
    device: tuple[Any, str], site: Site
) -> None:
    page, size = device
    site.settle(CENTRAL_LOT, "entry", "30E-246.80", now() - timedelta(hours=1, minutes=20))
    misread = site.settle(
        CENTRAL_LOT, "exit", None, now(), confidence=0.21, frame_text="30E-246.80"
    )
    other = site.settle(CENTRAL_LOT, "exit", "29C-456.78", now())  # exit without entry
    assert misread.review and other.review
    pid = misread.passage_id
    enter(page)
    page.goto("/dashboard/review")
    page.select_option("[data-testid=reason-select]", "plate_unreadable")
    page.locator("[data-testid=search-form] button[type=submit]").click()
    page.wait_for_load_state()
    assert "reason=plate_unreadable" in page.url
    items = page.locator("[data-review-id]")
    assert items.count() == 1 and items.first.get_attribute("data-review-id") == str(pid)
    thumb = items.first.locator("img.thumb").first
    thumb.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", thumb.element_handle()) == 320
    check_page(page, "ops-review-queue", size)

    items.first.locator("h2 a").click()  # the item's own page
    page.wait_for_url(f"**/dashboard/review/{pid}")
    item = page.locator(f"[data-review-id='{pid}']")
    item.locator("input[name=plate]").fill("30E-246.80")
    item.locator("form[action$='/correct'] button").click()
    page.wait_for_url(f"**/dashboard/review/{pid}?msg=review_corrected")
    assert "Đã sửa biển số" in page.locator("[data-testid=flash]").inner_text()
    amount = page.locator("input[name=amount_vnd]")
    assert amount.input_value() == "50000"  # the tariff's fare for 1 h 20 min, filled in
    check_page(page, "ops-review-item", size)
    page.locator("form[action$='/charge'] button").click()
    page.wait_for_url(f"**/dashboard/review/{pid}?msg=review_charged")
    assert "đã xử lý" in page.locator("[data-testid=review-status]").inner_text()
    assert "50.000" in page.locator("[data-testid=charged]").inner_text()
    assert page.locator("[data-testid=review-invoice]").count() == 1
    check_page(page, "ops-review-charged", size)


def test_lists_are_managed_on_the_page_and_the_gate_obeys(
    device: tuple[Any, str], site: Site
) -> None:
    page, size = device
    enter(page)
    page.goto("/dashboard/lists")
    form = page.locator("[data-testid=list-add]")
    form.locator("select[name=lot_id]").select_option(CENTRAL_LOT)
    form.locator("select[name=kind]").select_option("blacklist")
    form.locator("input[name=plate]").fill("not a plate")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("[data-error-for=plate]").count() == 1  # beside its field
    check_page(page, "ops-lists-error", size)
    form = page.locator("[data-testid=list-add]")
    form.locator("input[name=plate]").fill("30a12345")
    form.locator("input[name=note]").fill("xe báo mất")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/dashboard/lists?msg=list_entry_added*")
    entry = page.locator("[data-list-entry='30A-123.45']")
    assert entry.get_attribute("data-kind") == "blacklist" and "xe báo mất" in entry.inner_text()
    check_page(page, "ops-lists", size)
    denied = site.settle(CENTRAL_LOT, "entry", "30A-123.45", now())
    assert (denied.open, denied.reason) == (False, "listed_plate")
    entry.locator("button").click()
    page.wait_for_url("**/dashboard/lists?msg=list_entry_removed*")
    assert page.locator("[data-list-entry]").count() == 0
    assert site.settle(CENTRAL_LOT, "entry", "30A-123.45", now() + timedelta(seconds=5)).open


def test_an_alert_appears_on_the_dashboard(device: tuple[Any, str], site: Site) -> None:
    page, size = device
    enter(page)
    assert page.locator("[data-testid=alerts]").count() == 0
    for i in range(3):
        site.settle(CENTRAL_LOT, "exit", None, now() - timedelta(minutes=i), confidence=0.2)
    monitor = AlertMonitor(site.session_factory, Thresholds(review_backlog=2))
    assert len(monitor.run_once().opened) == 1
    page.reload()
    block = page.locator("[data-testid=alerts]")
    block.wait_for()
    assert "có 3 lượt (ngưỡng 2)" in block.inner_text()
    page.wait_for_selector("#revenue-day .main-svg")
    check_page(page, "ops-alert-dashboard", size)
    block.locator("a[href='/dashboard/alerts']").click()
    page.wait_for_url("**/dashboard/alerts")
    assert page.locator("[data-testid=alert-history] [data-alert-id]").count() == 1
    check_page(page, "ops-alerts", size)
