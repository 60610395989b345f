"""The same API on PostgreSQL: scoping queries, concurrent webhook deliveries, review, invoices."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from billing.adapters import orm as b
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from gateway import migrate
from gateway.api.signing import signed_headers
from gateway.app import create_app
from gateway.db import make_engine, make_session_factory
from gateway.settings import Settings
from tests.api.web.conftest import Env, _valid_register_code, issue_invoices, seed_people
from tests.api.web.helpers import settle, stay

pytestmark = pytest.mark.integration


@pytest.fixture()
def pg_world(pg_url: str, tmp_path: Path) -> Iterator[Env]:
    from billing.adapters.uow import UnitOfWork
    from billing.services.seed import seed_demo

    migrate.upgrade(pg_url)
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    demo = seed_demo(UnitOfWork(factory))
    _valid_register_code(factory, demo.operator_id)
    seed_people(
        factory,
        driver_account=demo.accounts["an"],
        other_driver_account=demo.accounts["binh"],
        lot_a=CENTRAL_LOT,
        company_b=demo.operator_id,
    )
    settings = Settings(
        database_url=pg_url,
        data_dir=tmp_path,
        secret_key="test-secret",
        payment_webhook_secret="test-webhook-secret",
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield Env(client, factory, settings, demo, f"pg:{pg_url}")
    app.state.engine.dispose()
    engine.dispose()


def test_scoping_review_and_invoices_on_postgresql(pg_world: Env, invoice_maker: object) -> None:
    env = pg_world
    stay(env, CENTRAL_LOT, "30A-123.45", hours=1.5)
    stay(env, AIRPORT_LOT, "30E-246.80", hours=0.5)
    now = datetime.now(UTC)
    settle(env, CENTRAL_LOT, "entry", "29C-456.78", now - timedelta(hours=1))
    pid = settle(env, CENTRAL_LOT, "exit", None, now, confidence=0.1).passage_id
    c = env.client
    op_a, op_b, driver = env.auth("op-a"), env.auth("op-b"), env.auth("driver")
    assert {p["lot_id"] for p in c.get("/api/v1/passages", headers=op_a).json()["items"]} == {
        CENTRAL_LOT
    }
    assert c.get("/api/v1/passages", headers=op_b).json()["total"] == 6
    assert c.get("/api/v1/passages?plate=123", headers=driver).json()["total"] == 2
    r = c.post(f"/api/v1/review/{pid}/correct", headers=op_a, json={"plate": "29C-456.78"})
    assert r.status_code == 200, r.text
    with ThreadPoolExecutor(4) as pool:
        codes = sorted(
            pool.map(
                lambda _: c.post(f"/api/v1/review/{pid}/charge", headers=op_a).status_code,
                range(4),
            )
        )
    assert codes == [200, 409, 409, 409]
    assert issue_invoices(env, invoice_maker) == 3
    assert c.get("/api/v1/invoices", headers=op_a).json()["total"] == 2
    assert c.get("/api/v1/invoices", headers=driver).json()["total"] == 1
    rev = c.get("/api/v1/reports/revenue", headers=op_b).json()
    assert {r["lot_id"] for r in rev["rows"]} == {CENTRAL_LOT, AIRPORT_LOT}
    rec = c.get("/api/v1/reconciliation", headers=op_a)
    assert rec.status_code == 200 and rec.json()["trial_balance_vnd"] == 0


def test_concurrent_webhook_deliveries_credit_once(pg_world: Env) -> None:
    env = pg_world
    acct = env.demo.accounts["an"]  # type: ignore[attr-defined]
    body = json.dumps(
        {
            "event": "payment.succeeded",
            "provider": "vietbank",
            "provider_txn_id": "txn-42",
            "account_id": acct,
            "amount_vnd": 300_000,
        }
    ).encode()
    headers = signed_headers("test-webhook-secret", body, "idem-42")

    def deliver(_: int) -> int:
        return env.client.post(
            "/api/v1/payments/webhook", content=body, headers=headers
        ).status_code

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(deliver, range(6)))
    assert codes == [200] * 6
    with env.session_factory() as s:
        assert s.get(b.TransportAccount, acct).balance_vnd == 800_000  # type: ignore[union-attr]
        n = s.scalar(select(func.count()).where(b.TopUp.provider_txn_id == "txn-42"))
    assert n == 1


def test_notices_and_sign_up_on_postgresql(pg_world: Env) -> None:
    """The notification outbox (intake, lease, delivery) and a sign-up, on PostgreSQL."""
    import re

    from billing.services import set_contacts, set_low_balance_notice
    from gateway.notices.stub import StubSender, read_inbox
    from gateway.notices.worker import NoticeWorker
    from gateway.orm import Notice, NoticeDelivery

    env = pg_world
    an = env.demo.accounts["an"]  # type: ignore[attr-defined]
    set_contacts(env.uow(), an, phone="+84912000111", email=None)
    set_low_balance_notice(env.uow(), an, 480_000)
    stay(env, CENTRAL_LOT, "30A-123.45")
    sms = StubSender(env.settings.data_dir / "notices" / "sms.jsonl")
    worker = NoticeWorker(env.session_factory, {"sms": sms})
    worker.run_once()
    worker.run_once()
    with env.session_factory() as s:
        kinds = sorted(s.scalars(select(Notice.kind).where(Notice.account_id == str(an))))
        assert kinds == ["low_balance", "topup_receipt", "trip_receipt"]
        statuses = set(s.scalars(select(NoticeDelivery.status)))
        assert statuses == {"sent"}
    texts = [m["body"] for m in read_inbox(sms.inbox)]
    assert sum("450.000 ₫" in t and "480.000 ₫" in t for t in texts) == 1

    r = env.client.post(
        "/signup",
        data={
            "full_name": "Lê Thị Mai",
            "phone": "0912 345 678",
            "plate": "51G-246.80",
            "vehicle_class": "car_le9",
            "password": "mai-password-1",
            "password2": "mai-password-1",
        },
        follow_redirects=False,
    )
    token = r.headers["location"].split("token=")[1]
    code = re.findall(r"\b(\d{6})\b", read_inbox(sms.inbox)[-1]["body"])[0]
    r = env.client.post("/signup/verify", data={"token": token, "code": code})
    assert r.url.path == "/portal" and "51G-246.80" in r.text
