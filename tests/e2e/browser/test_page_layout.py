"""Every main page, driver's and operator's, at a phone's size and a desktop's: nothing wider
than the viewport, no serious accessibility violation, a screenshot each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page

from billing.services.seed import CENTRAL_LOT
from gateway.web import navigation
from tests.e2e.browser.checks import check_page
from tests.e2e.browser.conftest import PASSWORD, Site, now

pytestmark = pytest.mark.e2e

OPERATOR_PAGES = tuple(item.href for item in navigation.OPERATOR)


def test_operator_pages_fit_and_pass_axe(device: tuple[Page, str], site: Site) -> None:
    site.settle(CENTRAL_LOT, "entry", "30A-123.45", now() - timedelta(hours=2))
    site.settle(CENTRAL_LOT, "exit", "30A-123.45", now() - timedelta(minutes=3), frame_text="30A")
    site.settle(CENTRAL_LOT, "entry", "30E-246.80", now() - timedelta(hours=1))
    site.settle(CENTRAL_LOT, "exit", None, now(), confidence=0.2, frame_text="30E-246.80")
    page, size = device
    page.goto("/login")
    page.fill("#f-username", "op-central")
    page.fill("#f-password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/dashboard")
    for n, path in enumerate(OPERATOR_PAGES):
        page.goto(path)
        if path == "/dashboard":
            page.wait_for_selector("#revenue-day .main-svg")
        check_page(page, f"4{n}-operator{path.replace('/', '-')}", size)


def test_admin_pages_fit_and_pass_axe(device: tuple[Page, str], site: Site) -> None:
    from gateway.auth.users import create_user

    with site.session_factory() as s:
        create_user(s, "root", PASSWORD, "admin", display_name="Quản trị")
        s.commit()
    page, size = device
    page.goto("/login")
    page.fill("#f-username", "root")
    page.fill("#f-password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/dashboard")
    menu = page.locator("[data-testid=admin-menu]")
    if size == "phone":
        page.click("[data-testid=menu-toggle]")
    menu.locator("summary").click()
    menu.locator("a[href='/admin/users']").click()
    page.wait_for_url("**/admin/users")
    for n, item in enumerate(i for i in navigation.ADMIN if i.group == "admin"):
        page.goto(item.href)
        check_page(page, f"5{n}-admin{item.href.replace('/', '-')}", size)
