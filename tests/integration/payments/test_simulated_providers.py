"""The simulated payment providers as a separate service, over real HTTP: a driver's top-up
goes from the portal to the provider's checkout page and back, the provider reports the
payment to the gateway's webhook, and only then is the account credited. Auto top-ups are
pulled through the provider and credited the same way."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import select

from billing.adapters import orm as b
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import PassageInput
from billing.domain.model import AutoTopUp
from billing.services import get_account, reconcile, seed_demo, set_auto_topup, settle_passage
from billing.services.reads import LOCAL
from billing.services.seed import CENTRAL_LOT
from gateway import migrate
from gateway.app import create_app
from gateway.auth.users import create_user
from gateway.bootstrap import build, build_auto_topups
from gateway.broker import free_port
from gateway.demo import UvicornThread, simulated_payments
from gateway.payments.records import DeliveryRecords
from gateway.settings import Settings

pytestmark = pytest.mark.integration
PASSWORD = "a long enough password"


@dataclass
class Stack:
    api: str
    provider: str
    settings: Settings
    uow: UnitOfWork
    accounts: dict[str, int]


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[Stack]:
    url = f"sqlite:///{(tmp_path / 'p.db').as_posix()}"
    migrate.upgrade(url)
    api_port, provider_port = free_port(), free_port()
    payments, providers = simulated_payments(api_port, provider_port)
    settings = Settings(
        database_url=url, data_dir=tmp_path, secret_key="k" * 40, payment_providers=providers
    )
    container = build(settings)
    demo = seed_demo(container.uow_factory())
    with container.session_factory() as s:
        create_user(s, "an", PASSWORD, "driver", account_id=demo.accounts["an"])
        s.commit()
    api = UvicornThread(create_app(settings, container), "127.0.0.1", api_port, "api")
    payments.start()
    api.start()
    try:
        yield Stack(
            f"http://127.0.0.1:{api_port}",
            f"http://127.0.0.1:{provider_port}",
            settings,
            container.uow_factory(),
            demo.accounts,
        )
    finally:
        api.stop()
        payments.stop()
        container.close()


def _balance(stack: Stack, who: str) -> int:
    acct = get_account(stack.uow, stack.accounts[who])
    assert acct is not None
    return acct.balance_vnd


def _until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.parametrize("provider", ["vnpay-qr", "momo", "bank-transfer"])
def test_a_driver_tops_up_on_the_providers_checkout_page(stack: Stack, provider: str) -> None:
    with httpx.Client(base_url=stack.api) as portal:
        r = portal.post("/login", data={"username": "an", "password": PASSWORD})
        assert r.status_code in (200, 303)
        page = portal.get("/portal").text
        assert f'value="{provider}"' in page
        r = portal.post(
            "/portal/topup",
            data={"amount_vnd": "200000", "provider": provider},
            headers={"origin": stack.api},
        )
        assert r.status_code == 303
        checkout = r.headers["location"]
        assert checkout.startswith(f"{stack.provider}/checkout/{provider}?")
        reference = dict(parse_qsl(urlsplit(checkout).query))["reference"]
        assert _balance(stack, "an") == 500_000
        with httpx.Client() as browser:
            shown = browser.get(checkout)
            assert shown.status_code == 200 and "200.000 ₫" in shown.text
            if provider == "bank-transfer":
                assert reference in shown.text  # the transfer's memo
            # A forged amount is refused by the provider: the merchant signed the fields.
            forged = browser.get(checkout.replace("amount_vnd=200000", "amount_vnd=1"))
            assert forged.status_code == 403
            form = dict(re.findall(r'name="(\w+)" value="([^"]*)"', shown.text))
            done = browser.post(f"{stack.provider}/checkout/{provider}/confirm", data=form)
            assert done.status_code == 303 and done.headers["location"].endswith(reference)
            browser.post(f"{stack.provider}/checkout/{provider}/confirm", data=form)  # twice
        _until(lambda: _balance(stack, "an") == 700_000)
        status = portal.get(f"/portal/topups/{reference}").text
        assert 'data-status="credited"' in status
    time.sleep(0.5)
    assert _balance(stack, "an") == 700_000  # the double click took the money once
    today = datetime.now(LOCAL).date()
    report = reconcile(stack.uow, today, payments=DeliveryRecords(stack.uow.session_factory))
    assert report.ok and report.topups == 1, report.mismatches


def test_an_auto_top_up_is_pulled_through_the_provider_and_credited_by_its_webhook(
    stack: Stack,
) -> None:
    cuong = stack.accounts["cuong"]
    set_auto_topup(stack.uow, cuong, AutoTopUp(threshold_vnd=20_000, amount_vnd=100_000))
    gates = ("hn-hoankiem-01-in1", "hn-hoankiem-01-out1")
    now = datetime.now(UTC)
    for i, (gate, direction, at) in enumerate(
        [(gates[0], "entry", now - timedelta(hours=1)), (gates[1], "exit", now)]
    ):
        settle_passage(
            stack.uow,
            PassageInput(f"auto-{i}", CENTRAL_LOT, gate, direction, at, "30G-999.99", 0.99, False),
        )
    assert _balance(stack, "cuong") == 10_000 - 25_000  # overdraft, and a request queued
    worker = build_auto_topups(build(stack.settings))
    assert worker is not None
    (asked,) = worker.run_once()
    assert asked.outcome == "requested" and asked.detail.startswith("MOMO-")
    _until(lambda: _balance(stack, "cuong") == 85_000)
    with stack.uow.session_factory() as s:
        intent = s.scalar(select(b.TopUpIntent).where(b.TopUpIntent.account_id == cuong))
    assert intent is not None and (intent.kind, intent.status) == ("auto", "credited")
