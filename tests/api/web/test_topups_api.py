"""Top-ups: the provider's webhook is HMAC-signed and idempotent; drivers pay via the simulator."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from billing.adapters import orm as b
from gateway.api.signing import sign, signed_headers
from tests.api.web.conftest import Env

SECRET = "test-webhook-secret"


def _acct(env: Env, name: str) -> int:
    return int(env.demo.accounts[name])  # type: ignore[attr-defined]


def _event(account_id: int, amount: int = 100_000, txn: str = "bank-001") -> bytes:
    return json.dumps(
        {
            "event": "payment.succeeded",
            "provider": "vietbank",
            "provider_txn_id": txn,
            "account_id": account_id,
            "amount_vnd": amount,
        }
    ).encode()


def _balance(env: Env, account_id: int) -> int:
    with env.session_factory() as s:
        return int(s.get(b.TransportAccount, account_id).balance_vnd)  # type: ignore[union-attr]


def _topups(env: Env, account_id: int) -> int:
    with env.session_factory() as s:
        return int(s.scalar(select(func.count()).where(b.TopUp.account_id == account_id)) or 0)


def test_signed_webhook_credits_once(world: Env) -> None:
    acct = _acct(world, "an")
    body = _event(acct)
    headers = signed_headers(SECRET, body, "idem-1")
    r = world.client.post("/api/v1/payments/webhook", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["balance_vnd"] == 600_000
    # The provider retries the same delivery: same answer, no second credit.
    r2 = world.client.post("/api/v1/payments/webhook", content=body, headers=headers)
    assert r2.status_code == 200 and r2.json() == r.json()
    assert r2.headers.get("Idempotent-Replayed") == "true"
    # A redelivery with a fresh idempotency key but the same provider transaction: still once.
    r3 = world.client.post(
        "/api/v1/payments/webhook", content=body, headers=signed_headers(SECRET, body, "idem-2")
    )
    assert r3.status_code == 200
    assert _balance(world, acct) == 600_000
    assert _topups(world, acct) == 2  # the seed's and this one


def test_same_key_other_body_is_conflict(world: Env) -> None:
    acct = _acct(world, "an")
    body = _event(acct)
    world.client.post(
        "/api/v1/payments/webhook", content=body, headers=signed_headers(SECRET, body, "k")
    )
    other = _event(acct, amount=200_000, txn="bank-002")
    r = world.client.post(
        "/api/v1/payments/webhook", content=other, headers=signed_headers(SECRET, other, "k")
    )
    assert r.status_code == 409
    assert _balance(world, acct) == 600_000


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "changed_body", "no_signature", "old_timestamp", "bad_timestamp"],
)
def test_bad_signatures_are_refused(world: Env, tamper: str) -> None:
    acct = _acct(world, "an")
    body = _event(acct)
    headers = signed_headers(SECRET, body, "idem-x")
    if tamper == "wrong_secret":
        headers = signed_headers("guess", body, "idem-x")
    elif tamper == "changed_body":
        body = _event(acct, amount=9_000_000)
    elif tamper == "no_signature":
        del headers["X-Signature"]
    elif tamper == "old_timestamp":
        ts = int(time.time()) - 3600
        headers["X-Signature-Timestamp"] = str(ts)
        headers["X-Signature"] = sign(SECRET, ts, body)
    elif tamper == "bad_timestamp":
        headers["X-Signature-Timestamp"] = "yesterday"
    r = world.client.post("/api/v1/payments/webhook", content=body, headers=headers)
    assert r.status_code == 401
    assert _balance(world, acct) == 500_000


def test_missing_idempotency_key_is_400(world: Env) -> None:
    body = _event(_acct(world, "an"))
    headers = signed_headers(SECRET, body, "x")
    del headers["Idempotency-Key"]
    r = world.client.post("/api/v1/payments/webhook", content=body, headers=headers)
    assert r.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        json.dumps(
            {
                "event": "payment.succeeded",
                "provider": "p",
                "provider_txn_id": "t",
                "account_id": 1,
                "amount_vnd": 1.5,
            }
        ).encode(),
        json.dumps(
            {
                "event": "payment.failed",
                "provider": "p",
                "provider_txn_id": "t",
                "account_id": 1,
                "amount_vnd": 100000,
            }
        ).encode(),
        json.dumps(
            {
                "event": "payment.succeeded",
                "provider": "p",
                "provider_txn_id": "t",
                "account_id": 1,
                "amount_vnd": -5,
            }
        ).encode(),
    ],
)
def test_malformed_events_are_422(world: Env, body: bytes) -> None:
    r = world.client.post(
        "/api/v1/payments/webhook", content=body, headers=signed_headers(SECRET, body, "m")
    )
    assert r.status_code == 422


def test_unknown_account_is_404(world: Env) -> None:
    body = _event(4242)
    r = world.client.post(
        "/api/v1/payments/webhook", content=body, headers=signed_headers(SECRET, body, "u")
    )
    assert r.status_code == 404


def test_oversized_payload_is_413(world: Env) -> None:
    body = b"{" + b" " * 20_000 + b"}"
    r = world.client.post(
        "/api/v1/payments/webhook", content=body, headers=signed_headers(SECRET, body, "big")
    )
    assert r.status_code == 413


def test_driver_tops_up_through_simulated_provider(world: Env) -> None:
    acct = _acct(world, "an")
    h = world.auth("driver")
    r = world.client.post(
        f"/api/v1/accounts/{acct}/topups", headers=h, json={"amount_vnd": 200_000}
    )
    assert r.status_code == 201, r.text
    assert r.json()["balance_vnd"] == 700_000 and r.json()["provider"] == "simpay"
    assert _balance(world, acct) == 700_000


@pytest.mark.parametrize("amount", [0, 5_000, 50_000_000, 100_000.0, "lots"])
def test_bad_top_up_amounts(world: Env, amount: object) -> None:
    acct = _acct(world, "an")
    r = world.client.post(
        f"/api/v1/accounts/{acct}/topups", headers=world.auth("driver"), json={"amount_vnd": amount}
    )
    assert r.status_code == 422
    assert _balance(world, acct) == 500_000


def test_nobody_tops_up_someone_elses_account(world: Env) -> None:
    other = _acct(world, "binh")
    for who in ("driver", "op-a"):
        r = world.client.post(
            f"/api/v1/accounts/{other}/topups",
            headers=world.auth(who),
            json={"amount_vnd": 100_000},
        )
        assert r.status_code == 403
    r = world.client.post(f"/api/v1/accounts/{other}/topups", json={"amount_vnd": 100_000})
    assert r.status_code == 401
