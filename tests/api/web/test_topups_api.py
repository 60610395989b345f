"""Top-ups: an intent sends the driver to a provider's checkout; only that provider's signed,
idempotent webhook credits it. Nothing else credits money, and reconciliation catches a top-up
that came any other way."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from billing.adapters import orm as b
from billing.domain.payments import MAX_TOP_UP_VND
from billing.services import top_up
from gateway.app import create_app
from gateway.payments.signing import sign, sign_fields, signed_headers
from gateway.settings import Settings
from tests.api.web.conftest import PASSWORD, PROVIDERS, Env

SECRETS = {p.name: p.secret for p in PROVIDERS}
WEBHOOK = "/api/v1/payments/webhook"


def _acct(env: Env, name: str) -> int:
    return int(env.demo.accounts[name])  # type: ignore[attr-defined]


def _balance(env: Env, account_id: int) -> int:
    with env.session_factory() as s:
        return int(s.get(b.TransportAccount, account_id).balance_vnd)  # type: ignore[union-attr]


def _topups(env: Env, account_id: int) -> int:
    with env.session_factory() as s:
        return int(s.scalar(select(func.count()).where(b.TopUp.account_id == account_id)) or 0)


def _intent(env: Env, amount: int = 100_000, provider: str = "vietbank") -> dict[str, object]:
    acct = _acct(env, "an")
    r = env.client.post(
        f"/api/v1/accounts/{acct}/topup-intents",
        headers=env.auth("driver"),
        json={"provider": provider, "amount_vnd": amount},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _event(
    reference: object, amount: int = 100_000, txn: str = "bank-001", provider: str = "vietbank"
) -> bytes:
    return json.dumps(
        {
            "event": "payment.succeeded",
            "provider": provider,
            "provider_txn_id": txn,
            "reference": reference,
            "amount_vnd": amount,
        }
    ).encode()


def _deliver(env: Env, body: bytes, key: str, secret: str | None = None) -> object:
    provider = json.loads(body).get("provider", "vietbank") if body.startswith(b"{") else ""
    headers = signed_headers(secret or SECRETS.get(provider, "x" * 20), body, key)
    return env.client.post(WEBHOOK, content=body, headers=headers)


def test_an_intent_goes_to_the_checkout_and_only_the_signed_webhook_credits_it(world: Env) -> None:
    acct = _acct(world, "an")
    intent = _intent(world, 200_000)
    assert intent["status"] == "pending" and intent["amount_vnd"] == 200_000
    assert _balance(world, acct) == 500_000  # asking is not paying
    url = urlsplit(str(intent["checkout_url"]))
    assert f"{url.scheme}://{url.netloc}{url.path}" == "http://pay.test/checkout/vietbank"
    fields = dict(parse_qsl(url.query))
    assert fields["reference"] == intent["reference"] and fields["amount_vnd"] == "200000"
    assert fields["return_url"].endswith(f"/portal/topups/{intent['reference']}")
    assert fields["signature"] == sign_fields(SECRETS["vietbank"], int(fields["ts"]), fields)

    body = _event(intent["reference"], 200_000)
    r = _deliver(world, body, "idem-1")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    answer = r.json()  # type: ignore[attr-defined]
    assert (answer["status"], answer["account_id"], answer["balance_vnd"]) == (
        "credited",
        acct,
        700_000,
    )
    again = _deliver(world, body, "idem-1")  # the provider retries the same delivery
    assert again.json() == answer and again.headers["Idempotent-Replayed"] == "true"  # type: ignore[attr-defined]
    fresh_key = _deliver(world, body, "idem-2")  # same payment, another delivery: still once
    assert fresh_key.status_code == 200  # type: ignore[attr-defined]
    assert _balance(world, acct) == 700_000 and _topups(world, acct) == 1
    r = world.client.get(
        f"/api/v1/accounts/{acct}/topup-intents/{intent['reference']}",
        headers=world.auth("driver"),
    )
    assert r.json()["status"] == "credited" and r.json()["credited_vnd"] == 200_000


def test_the_simulated_crediting_endpoint_is_gone(world: Env) -> None:
    acct = _acct(world, "an")
    r = world.client.post(
        f"/api/v1/accounts/{acct}/topups", headers=world.auth("driver"), json={"amount_vnd": 1}
    )
    assert r.status_code == 405
    assert _balance(world, acct) == 500_000


def test_same_key_other_body_is_conflict(world: Env) -> None:
    ref = _intent(world)["reference"]
    _deliver(world, _event(ref), "k")
    r = _deliver(world, _event(ref, txn="bank-002"), "k")
    assert r.status_code == 409  # type: ignore[attr-defined]
    assert _balance(world, _acct(world, "an")) == 600_000


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong_secret",
        "another_providers_secret",
        "unknown_provider",
        "changed_body",
        "no_signature",
        "old_timestamp",
        "bad_timestamp",
    ],
)
def test_bad_signatures_are_refused(world: Env, tamper: str) -> None:
    ref = _intent(world)["reference"]
    body = _event(ref)
    headers = signed_headers(SECRETS["vietbank"], body, "idem-x")
    if tamper == "wrong_secret":
        headers = signed_headers("a guess of sixteen+", body, "idem-x")
    elif tamper == "another_providers_secret":
        headers = signed_headers(SECRETS["momo"], body, "idem-x")
    elif tamper == "unknown_provider":
        body = _event(ref, provider="mybank")
        headers = signed_headers(SECRETS["vietbank"], body, "idem-x")
    elif tamper == "changed_body":
        body = _event(ref, amount=9_000_000)
    elif tamper == "no_signature":
        del headers["X-Signature"]
    elif tamper == "old_timestamp":
        ts = int(time.time()) - 3600
        headers["X-Signature-Timestamp"] = str(ts)
        headers["X-Signature"] = sign(SECRETS["vietbank"], ts, body)
    elif tamper == "bad_timestamp":
        headers["X-Signature-Timestamp"] = "yesterday"
    r = world.client.post(WEBHOOK, content=body, headers=headers)
    assert r.status_code == 401
    assert _balance(world, _acct(world, "an")) == 500_000


def test_missing_idempotency_key_is_400(world: Env) -> None:
    body = _event(_intent(world)["reference"])
    headers = signed_headers(SECRETS["vietbank"], body, "x")
    del headers["Idempotency-Key"]
    assert world.client.post(WEBHOOK, content=body, headers=headers).status_code == 400


@pytest.mark.parametrize(
    "change",
    [
        {"amount_vnd": 1.5},
        {"amount_vnd": -5},
        {"amount_vnd": 200_000_000},
        {"event": "payment.refunded"},
        {"reference": ""},
        {"provider_txn_id": None},
    ],
)
def test_malformed_events_are_422(world: Env, change: dict[str, object]) -> None:
    event = {**json.loads(_event("NAPX")), **change}
    r = _deliver(world, json.dumps(event).encode(), "m")
    assert r.status_code == 422  # type: ignore[attr-defined]


def test_a_payment_for_no_intent_is_404_and_reconciliation_reports_it(world: Env) -> None:
    r = _deliver(world, _event("NAPNOSUCHINTENT42"), "u")
    assert r.status_code == 404  # type: ignore[attr-defined]
    rec = world.client.get("/api/v1/reconciliation", headers=world.auth("admin")).json()
    assert [(m["kind"], m["ref"]) for m in rec["mismatches"]] == [
        ("payment_not_credited", "vietbank:bank-001")
    ]


def test_a_top_up_written_behind_the_webhooks_back_is_reported(world: Env) -> None:
    """The 30,000,000 VND of the security pass: money in the ledger that no provider reported."""
    ref = _intent(world)["reference"]
    assert _deliver(world, _event(ref), "ok").status_code == 200  # type: ignore[attr-defined]
    rec = world.client.get("/api/v1/reconciliation", headers=world.auth("admin")).json()
    assert rec["ok"] and (rec["topups"], rec["topups_vnd"]) == (1, 100_000)
    top_up(world.uow(), _acct(world, "an"), 30_000_000, "vietbank", "FORGED-1")
    rec = world.client.get("/api/v1/reconciliation", headers=world.auth("admin")).json()
    assert not rec["ok"]
    assert [m["kind"] for m in rec["mismatches"]] == ["topup_unverified"]


def test_an_oversized_payload_is_413_without_reading_it_all(world: Env) -> None:
    body = b"{" + b" " * 20_000 + b"}"
    r = world.client.post(WEBHOOK, content=body, headers=signed_headers("x" * 20, body, "big"))
    assert r.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        {"provider": "vietbank", "amount_vnd": 0},
        {"provider": "vietbank", "amount_vnd": 5_000},
        {"provider": "vietbank", "amount_vnd": MAX_TOP_UP_VND + 1},
        {"provider": "vietbank", "amount_vnd": 100_000.0},
        {"provider": "vietbank", "amount_vnd": "lots"},
        {"provider": "mybank", "amount_vnd": 100_000},
        {"amount_vnd": 100_000},
    ],
)
def test_bad_intents_are_422(world: Env, body: dict[str, object]) -> None:
    acct = _acct(world, "an")
    r = world.client.post(
        f"/api/v1/accounts/{acct}/topup-intents", headers=world.auth("driver"), json=body
    )
    assert r.status_code == 422


def test_nobody_asks_a_top_up_for_someone_elses_account(world: Env) -> None:
    other = _acct(world, "binh")
    url = f"/api/v1/accounts/{other}/topup-intents"
    for who in ("driver", "op-a"):
        r = world.client.post(
            url, headers=world.auth(who), json={"provider": "vietbank", "amount_vnd": 100_000}
        )
        assert r.status_code == 403
    assert world.client.post(url, json={"provider": "vietbank", "amount_vnd": 1}).status_code == 401
    ref = _intent(world)["reference"]  # the driver's own intent is not binh's to read
    r = world.client.get(f"{url}/{ref}", headers=world.auth("admin"))
    assert r.status_code == 404


def test_the_providers_are_listed_without_their_secrets(world: Env) -> None:
    r = world.client.get("/api/v1/payments/providers", headers=world.auth("driver"))
    assert r.json() == [
        {"name": "vietbank", "label": "Vietbank", "kind": "bank_transfer", "auto_top_up": False},
        {"name": "momo", "label": "MoMo", "kind": "wallet", "auto_top_up": True},
    ]
    assert "secret" not in r.text


@pytest.fixture()
def unconfigured(world: Env, tmp_path: Path) -> Iterator[TestClient]:
    """The same world served as ``parking serve`` serves it: no provider configured."""
    app = create_app(
        Settings(
            database_url=world.settings.database_url, data_dir=tmp_path, secret_key="test-secret"
        )
    )
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_without_a_provider_there_is_no_top_up_at_all(world: Env, unconfigured: TestClient) -> None:
    acct = _acct(world, "an")
    h = world.auth("driver")
    assert unconfigured.get("/api/v1/payments/providers", headers=h).json() == []
    r = unconfigured.post(
        f"/api/v1/accounts/{acct}/topup-intents",
        headers=h,
        json={"provider": "vietbank", "amount_vnd": 100_000},
    )
    assert r.status_code == 422
    body = _event("NAP1")
    r = unconfigured.post(
        WEBHOOK, content=body, headers=signed_headers(SECRETS["vietbank"], body, "k")
    )
    assert r.status_code == 401
    unconfigured.post("/login", data={"username": "driver", "password": PASSWORD})
    page = unconfigured.get("/portal").text
    assert 'data-testid="topup-unavailable"' in page and 'data-testid="topup-form"' not in page
    assert _balance(world, acct) == 500_000


def test_the_provider_sends_the_driver_back_to_the_public_address(world: Env) -> None:
    app = world.client.app
    app.state.settings = app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"public_url": "https://parking.example.vn/"}
    )
    intent = _intent(world)
    fields = dict(parse_qsl(urlsplit(str(intent["checkout_url"])).query))
    assert fields["return_url"] == f"https://parking.example.vn/portal/topups/{intent['reference']}"


def _failed(reference: object, txn: str = "bank-f01") -> bytes:
    event = json.loads(_event(reference, txn=txn))
    return json.dumps({**event, "event": "payment.failed"}).encode()


def test_a_signed_payment_failed_marks_the_intent_failed_and_moves_no_money(world: Env) -> None:
    acct = _acct(world, "an")
    ref = str(_intent(world)["reference"])
    r = _deliver(world, _failed(ref), "f1")
    assert r.status_code == 200 and r.json()["status"] == "failed"  # type: ignore[attr-defined]
    assert _deliver(world, _failed(ref), "f1").headers["Idempotent-Replayed"] == "true"  # type: ignore[attr-defined]
    assert _balance(world, acct) == 500_000 and _topups(world, acct) == 0
    got = world.client.get(
        f"/api/v1/accounts/{acct}/topup-intents/{ref}", headers=world.auth("driver")
    )
    assert got.json()["status"] == "failed"
    # The driver's page says so, in the catalogue's words.
    world.client.post("/login", data={"username": "driver", "password": PASSWORD})
    page = world.client.get(f"/portal/topups/{ref}").text
    assert 'data-status="failed"' in page and "thanh toán không thành công" in page
    assert 'http-equiv="refresh"' not in page  # nothing more to wait for
    # A failure is not a payment: reconciliation has nothing to report.
    rec = world.client.get("/api/v1/reconciliation", headers=world.auth("admin")).json()
    assert rec["ok"] and rec["mismatches"] == []
    # Money that arrives after all is still credited (it was taken).
    assert _deliver(world, _event(ref, txn="bank-late"), "late").status_code == 200  # type: ignore[attr-defined]
    assert _balance(world, acct) == 600_000


def test_a_failure_reported_after_the_credit_changes_nothing(world: Env) -> None:
    acct = _acct(world, "an")
    ref = str(_intent(world)["reference"])
    assert _deliver(world, _event(ref), "ok").status_code == 200  # type: ignore[attr-defined]
    r = _deliver(world, _failed(ref), "f2")
    assert r.status_code == 200 and r.json()["status"] == "credited"  # type: ignore[attr-defined]
    assert _balance(world, acct) == 600_000


def test_a_failure_for_no_intent_or_unsigned_is_refused(world: Env) -> None:
    assert _deliver(world, _failed("NAPNOSUCHINTENT42"), "n").status_code == 404  # type: ignore[attr-defined]
    ref = str(_intent(world)["reference"])
    forged = _deliver(world, _failed(ref), "x", secret="not-the-providers-secret-at-all")
    assert forged.status_code == 401  # type: ignore[attr-defined]
