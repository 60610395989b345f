"""Alerts on the dashboard and their page: only the operator's lots, text from the catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from billing.adapters import orm as b
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from gateway.alerts.conditions import Thresholds
from gateway.alerts.monitor import AlertMonitor
from tests.api.web.conftest import PASSWORD, Env, issue_invoices
from tests.api.web.helpers import settle, stay


def _sign_in(env: Env, username: str) -> None:
    r = env.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303


def test_open_alerts_show_on_the_dashboard_of_their_lots_only(world: Env) -> None:
    now = datetime.now(UTC)
    for i in range(3):
        settle(world, AIRPORT_LOT, "exit", None, now - timedelta(minutes=i), 0.2)
    monitor = AlertMonitor(world.session_factory, Thresholds(review_backlog=2))
    assert len(monitor.run_once().opened) == 1  # the airport's queue; nobody to send to
    _sign_in(world, "op-a")  # the central lot only
    c = world.client
    assert 'data-testid="alerts"' not in c.get("/dashboard").text
    assert 'data-testid="no-alerts"' in c.get("/dashboard/alerts").text
    _sign_in(world, "op-b")
    page = c.get("/dashboard").text
    block = page.split('data-testid="alerts"')[1].split("</section>")[0]
    assert f"Hàng chờ xử lý của bãi {AIRPORT_LOT} có 3 lượt (ngưỡng 2)." in block
    assert 'data-alert="review_backlog"' in block
    c.get("/lang/en")
    english = c.get("/dashboard/alerts").text
    assert f"The review queue of lot {AIRPORT_LOT} holds 3 passages (limit 2)." in english


def test_a_rejected_invoice_is_alerted_until_it_is_no_longer_rejected(
    world: Env, invoice_maker: object
) -> None:
    from einvoice.db import invoices

    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    assert issue_invoices(world, invoice_maker) == 1
    with world.session_factory() as s:
        iid = s.scalar(select(invoices.c.id))
        s.execute(update(invoices).where(invoices.c.id == iid).values(status="rejected"))
        s.commit()
    monitor = AlertMonitor(world.session_factory)
    (opened,) = monitor.run_once().opened
    _sign_in(world, "op-a")
    page = world.client.get("/dashboard").text
    assert "Cơ quan thuế từ chối hóa đơn" in page and 'data-alert="tax_rejected"' in page
    with world.session_factory() as s:
        s.execute(update(invoices).where(invoices.c.id == iid).values(status="accepted"))
        gate = s.scalar(select(b.Gate.id).where(b.Gate.lot_id == CENTRAL_LOT))
        assert gate is not None
        s.commit()
    assert monitor.run_once().cleared == (opened,)
    assert 'data-alert="tax_rejected"' not in world.client.get("/dashboard").text
    history = world.client.get("/dashboard/alerts").text
    assert f'data-alert-id="{opened}"' in history and "đã hết" in history
