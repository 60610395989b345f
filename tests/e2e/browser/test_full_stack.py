"""The pages on the whole running system: a simulated gate agent publishes over Mosquitto, the
gateway consumer settles the exit on PostgreSQL, the operator sees it in the live feed, the
invoice worker and the mock tax authority accept the invoice, and the driver downloads it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from gateway.auth.users import create_user, grant
from gateway.broker import free_port
from gateway.demo import UvicornThread
from tests.e2e.browser.conftest import PASSWORD, shot, sign_in
from tests.e2e.passage_stack import PLATE, PassageStack, passage_stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture()
def running(
    pg_url: str, mosquitto: tuple[str, int], tmp_path: Path
) -> Iterator[tuple[PassageStack, str]]:
    from gateway.app import create_app

    with passage_stack(pg_url, mosquitto, tmp_path, read_plates=False) as stack:
        container = stack.container
        with container.session_factory() as s:
            create_user(s, "op-e2e", PASSWORD, "operator", display_name="Vận hành E2E")
            grant(s, "op-e2e", lot_id=stack.lot)
            from sqlalchemy import select

            from billing.adapters import orm as b

            account = s.scalar(select(b.Vehicle.account_id).where(b.Vehicle.plate_text == PLATE))
            create_user(s, "an-e2e", PASSWORD, "driver", account_id=account)
            s.commit()
        port = free_port()
        web = UvicornThread(create_app(container.settings, container), "127.0.0.1", port, "web")
        web.start()
        try:
            yield stack, f"http://127.0.0.1:{port}"
        finally:
            web.stop()


def test_exit_from_a_gate_agent_reaches_the_feed_and_the_drivers_invoice(
    browser: Any, running: tuple[PassageStack, str]
) -> None:
    from einvoice.verify import verify_invoice

    stack, url = running
    ctx = browser.new_context(base_url=url, viewport={"width": 1360, "height": 900})
    page: Page = ctx.new_page()
    page.set_default_timeout(30_000)
    gate_in, gate_out = stack.agent(stack.entry_gate), stack.agent(stack.exit_gate)
    now = datetime.now(UTC)
    entry = gate_in.capture(PLATE, camera_text=True, captured_at=now - timedelta(minutes=95))
    assert gate_in.wait_command(entry.event_id, 30) is not None

    sign_in(page, "op-e2e")
    page.goto("/dashboard/passages")
    page.wait_for_selector("[data-testid=live-feed]")
    exit_ = gate_out.capture(PLATE, camera_text=True, captured_at=now)
    command = gate_out.wait_command(exit_.event_id, 30)
    assert command is not None and command.open and command.fare_vnd
    fare = f"{command.fare_vnd:,}".replace(",", ".") + " ₫"
    page.locator("#feed tr", has_text=fare).first.wait_for()
    assert page.locator(f"#feed tr:has-text('{stack.exit_gate}')").count() >= 1
    shot(page, "20-full-stack-live-feed")

    wait_until(
        lambda: [r for r in stack.invoices_for(exit_.event_id) if r.status == "accepted"],
        60,
        "invoice accepted by the mock tax authority",
    )
    page.goto("/dashboard/invoices")
    assert "CQT chấp nhận" in page.content()
    shot(page, "21-full-stack-invoices")

    driver_ctx = browser.new_context(base_url=url, accept_downloads=True)
    driver: Page = driver_ctx.new_page()
    sign_in(driver, "an-e2e")
    driver.goto("/portal/invoices")
    card = driver.locator("[data-invoice-id]").first
    assert fare in card.inner_text()
    with driver.expect_download() as info:
        card.locator("a", has_text="XML").click()
    report = verify_invoice(Path(info.value.path()).read_bytes())
    assert report.valid, report.error
    shot(driver, "22-full-stack-driver-invoice")
    driver_ctx.close()
    ctx.close()
