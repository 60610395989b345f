"""The simulated provider service on its own: it checks the merchant's signatures, takes a
payment once per reference, and reports it with a signed webhook until acknowledged."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.payments.signing import signed_headers, verify
from simulator.payments.app import create_provider_app
from simulator.payments.config import ServiceConfig, SimProvider
from simulator.payments.delivery import WebhookSender

WALLET = SimProvider("momo", "MoMo", "wallet", "w" * 32, pulls=True)
QR = SimProvider("vnpay-qr", "VNPay", "qr", "q" * 32)


class Merchant:
    """The merchant's webhook: answers with the scripted codes, then 200; checks signatures."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.seen: list[dict[str, object]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        event = json.loads(body)
        secret = {"momo": WALLET.secret, "vnpay-qr": QR.secret}[event["provider"]]
        verify(
            secret, request.headers["X-Signature"], request.headers["X-Signature-Timestamp"], body
        )
        self.seen.append({"key": request.headers["Idempotency-Key"], **event})
        return httpx.Response(self.codes.pop(0) if self.codes else 200, json={})


def _service(merchant: Merchant) -> tuple[ServiceConfig, WebhookSender]:
    config = ServiceConfig(
        (WALLET, QR), "http://merchant.test/webhook", retry_base_s=0.01, max_attempts=4
    )
    sender = WebhookSender(config, httpx.Client(transport=httpx.MockTransport(merchant)))
    return config, sender


@pytest.fixture()
def merchant() -> Merchant:
    return Merchant(500, 503)


@pytest.fixture()
def client(merchant: Merchant) -> Iterator[TestClient]:
    config, sender = _service(merchant)
    with TestClient(create_provider_app(config, sender=sender)) as c:
        yield c


def _until(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_a_pull_needs_the_merchants_signature_and_takes_money_once(
    client: TestClient, merchant: Merchant
) -> None:
    body = json.dumps({"reference": "auto:e1", "account_id": 4, "amount_vnd": 100_000}).encode()
    unsigned = client.post("/api/momo/charges", content=body)
    assert unsigned.status_code == 401
    forged = client.post(
        "/api/momo/charges", content=body, headers=signed_headers("x" * 32, body, "k")
    )
    assert forged.status_code == 401
    assert client.post("/api/vnpay-qr/charges", content=body).status_code == 404  # no pulls
    ok = client.post(
        "/api/momo/charges", content=body, headers=signed_headers(WALLET.secret, body, "k")
    )
    again = client.post(
        "/api/momo/charges", content=body, headers=signed_headers(WALLET.secret, body, "k")
    )
    assert ok.status_code == 200 and again.json() == ok.json()
    # Reported after two failures (500, 503), with one key, signed each time.
    _until(lambda: len(merchant.seen) == 3)
    assert len(merchant.seen) == 3 and {str(m["key"]) for m in merchant.seen} == {
        f"momo:{ok.json()['provider_txn_id']}"
    }
    assert merchant.seen[-1]["reference"] == "auto:e1" and merchant.seen[-1]["account_id"] == 4
    report = client.get("/api/momo/transactions").json()
    assert [(t["reference"], t["amount_vnd"]) for t in report] == [("auto:e1", 100_000)]


def test_a_merchants_refusal_ends_the_deliveries() -> None:
    refusing = Merchant(404)
    config, sender = _service(refusing)
    with TestClient(create_provider_app(config, sender=sender)) as c:
        body = json.dumps({"reference": "auto:x", "account_id": 1, "amount_vnd": 5}).encode()
        c.post("/api/momo/charges", content=body, headers=signed_headers(WALLET.secret, body, "k"))
        _until(lambda: sender.given_up)
        time.sleep(0.1)
    assert len(refusing.seen) == 1 and len(sender.given_up) == 1 and sender.delivered == []


def test_a_checkout_link_not_signed_by_the_merchant_is_refused(client: TestClient) -> None:
    fields = {
        "reference": "NAP1",
        "amount_vnd": "100000",
        "return_url": "http://merchant.test/back",
        "ts": str(int(time.time())),
        "signature": "sha256=00",
    }
    r = client.get("/checkout/vnpay-qr", params=fields)
    assert r.status_code == 403 and "không" in r.text.lower()
    r = client.post("/checkout/vnpay-qr/confirm", data=fields, follow_redirects=False)
    assert r.status_code == 403
