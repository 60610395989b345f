"""An operator in a real browser: sign in, watch an exit arrive, settle a misread plate, charts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page
from sqlalchemy import func, select

from billing.adapters import orm as b
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from tests.e2e.browser.conftest import Site, now, shot, sign_in

pytestmark = pytest.mark.e2e


def test_operator_live_feed_review_and_charts(page: Page, site: Site) -> None:
    # Yesterday's and today's paid stays give the revenue chart something to draw.
    site.settle(CENTRAL_LOT, "entry", "30E-246.80", now() - timedelta(days=1, hours=2))
    site.settle(CENTRAL_LOT, "exit", "30E-246.80", now() - timedelta(days=1))
    site.settle(CENTRAL_LOT, "entry", "29C-456.78", now() - timedelta(hours=3))
    site.settle(CENTRAL_LOT, "exit", "29C-456.78", now() - timedelta(hours=1))
    site.settle(AIRPORT_LOT, "entry", "29-B1 678.90", now() - timedelta(hours=2))

    page.goto("/login")
    shot(page, "01-login")
    sign_in(page, "op-central")
    page.wait_for_url("**/dashboard")

    # The revenue chart renders (plotly.js served by the app itself, no CDN).
    page.wait_for_selector("#revenue-day .main-svg")
    assert page.locator("#revenue-day .bars path").count() >= 1
    assert page.locator("#occupancy-day .main-svg").count() >= 1
    assert AIRPORT_LOT not in page.content()
    shot(page, "02-dashboard")

    # A car leaves while the operator watches the live feed.
    page.goto("/dashboard/passages")
    page.wait_for_selector("[data-testid=live-feed]")
    assert page.locator("tr:has-text('30A-123.45')").count() == 0
    site.settle(CENTRAL_LOT, "entry", "30A-123.45", now() - timedelta(hours=1, minutes=30))
    site.settle(CENTRAL_LOT, "exit", "30A-123.45", now(), frame_text="30A-123.45")
    row = page.locator("#feed tr", has_text="30A-123.45").first
    row.wait_for()
    assert "50.000 ₫" in page.locator("#feed tr", has_text="50.000 ₫").first.inner_text()
    assert page.locator("#feed tr img.plate").count() >= 1
    live = page.locator("#feed tr", has_text="50.000 ₫").first.inner_text()
    assert "30A-123.45" in live and "96%" in live and "đã trừ phí" in live  # read, decision
    shot(page, "03-live-feed")

    # The camera could not read the next car's plate: the exit waits in the review queue.
    site.settle(CENTRAL_LOT, "entry", "30E-246.80", now() - timedelta(hours=1, minutes=20))
    decision = site.settle(
        CENTRAL_LOT, "exit", None, now(), confidence=0.21, frame_text="30E-246.80"
    )
    assert decision.review
    pid = decision.passage_id
    page.goto("/dashboard/review")
    item = page.locator(f"[data-review-id='{pid}']")
    item.wait_for()
    assert item.locator("img.thumb").count() >= 1  # thumbnails, not full frames
    shot(page, "04-review-queue")
    item.locator("input[name=plate]").fill("30E-246.80")
    item.locator("form[action$='/correct'] button").click()
    page.wait_for_load_state()
    item = page.locator(f"[data-review-id='{pid}']")  # the item's own page, its new state
    assert "30E-246.80" in item.locator("[data-testid=plate]").inner_text()
    assert "50.000 ₫" in item.inner_text()
    assert item.locator("input[name=amount_vnd]").input_value() == "50000"  # suggested fare
    item.locator("form[action$='/charge'] button").click()
    page.wait_for_load_state()
    assert "đã xử lý" in page.locator("[data-testid=review-status]").inner_text()
    page.locator("[data-testid=review-invoice]").wait_for()
    shot(page, "05-review-charged")
    page.goto("/dashboard/review")
    page.locator(f"[data-resolved-id='{pid}']").wait_for()
    assert page.locator(f"[data-review-id='{pid}']").count() == 0

    # A second charge of the same passage (a double submit) is refused; the money moved once.
    again = page.request.post(f"/api/v1/review/{pid}/charge")
    assert again.status == 409
    with site.session_factory() as s:
        event_id = s.scalar(select(b.Passage.event_id).where(b.Passage.id == pid))
        debits = s.scalar(
            select(func.count()).where(
                b.JournalEntry.event_id == event_id, b.JournalEntry.kind == "fare"
            )
        )
    assert debits == 1

    page.goto("/dashboard/invoices")
    shot(page, "06-invoices")
    page.goto("/dashboard/tariffs")
    assert "hn-central" in page.content()
    shot(page, "07-tariffs")
    page.goto("/lang/en")
    page.goto("/dashboard")
    page.wait_for_selector("#revenue-day .main-svg")
    assert "Revenue" in page.content()
    shot(page, "08-dashboard-en")
