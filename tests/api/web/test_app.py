"""The app factory: ops endpoints, the OpenAPI document, and the composition root's container."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from tests.api.web.conftest import Env

EXPECTED_PATHS = {
    "/api/v1/auth/token",
    "/api/v1/me",
    "/api/v1/users",
    "/api/v1/users/{username}/grants",
    "/api/v1/accounts",
    "/api/v1/accounts/{account_id}",
    "/api/v1/accounts/{account_id}/vehicles",
    "/api/v1/accounts/{account_id}/vehicles/{vehicle_id}",
    "/api/v1/accounts/{account_id}/auto-topup",
    "/api/v1/accounts/{account_id}/topups",
    "/api/v1/accounts/{account_id}/topup-intents",
    "/api/v1/accounts/{account_id}/topup-intents/{reference}",
    "/api/v1/payments/providers",
    "/api/v1/accounts/{account_id}/statement",
    "/api/v1/payments/webhook",
    "/api/v1/lots",
    "/api/v1/lots/{lot_id}",
    "/api/v1/lots/{lot_id}/gates",
    "/api/v1/tariffs",
    "/api/v1/tariffs/{tariff_id}",
    "/api/v1/passages",
    "/api/v1/passages/{passage_id}",
    "/api/v1/passages.csv",
    "/api/v1/passages/{passage_id}/image",
    "/api/v1/passages/{passage_id}/evidence",
    "/api/v1/sessions",
    "/api/v1/sessions/{session_id}",
    "/api/v1/sessions.csv",
    "/api/v1/review",
    "/api/v1/review/{passage_id}",
    "/api/v1/review/{passage_id}/correct",
    "/api/v1/review/{passage_id}/charge",
    "/api/v1/review/{passage_id}/waive",
    "/api/v1/review/{passage_id}/confirm",
    "/api/v1/reports/revenue",
    "/api/v1/reports/revenue.csv",
    "/api/v1/reports/occupancy",
    "/api/v1/invoices",
    "/api/v1/invoices/{invoice_id}",
    "/api/v1/invoices.csv",
    "/api/v1/invoices/{invoice_id}/xml",
    "/api/v1/invoices/{invoice_id}/html",
    "/api/v1/invoices/{invoice_id}/pdf",
    "/api/v1/reconciliation",
    "/api/v1/audit",
    "/api/v1/lots/{lot_id}/tariff",
}
PUBLIC = {"/api/v1/auth/token", "/api/v1/payments/webhook"}


def test_openapi_documents_every_route(gw_env: Env) -> None:
    spec = gw_env.client.get("/openapi.json").json()
    assert set(spec["paths"]) == EXPECTED_PATHS
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("tags"), f"{method} {path} has no tag"
            codes = set(op["responses"])
            assert codes & {"200", "201", "204"}, f"{method} {path}"
            if path not in PUBLIC:
                assert {"401", "403"} <= codes, f"{method} {path} documents no auth errors"
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    schemas = spec["components"]["schemas"]
    assert "Page_PassageOut_" in schemas and "InvoiceDetailOut" in schemas


def test_ops_endpoints_are_included(gw_env: Env) -> None:
    assert gw_env.client.get("/livez").json() == {"status": "ok"}
    r = gw_env.client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["database"] == "ok"
    assert gw_env.client.get("/metrics").status_code == 200


def test_root_redirects_by_sign_in(gw_env: Env) -> None:
    r = gw_env.client.get("/", follow_redirects=False)
    assert r.headers["location"] == "/login"


def test_app_takes_the_composition_roots_container(tmp_path: Path) -> None:
    from gateway import migrate
    from gateway.bootstrap import build

    url = f"sqlite:///{(tmp_path / 'c.db').as_posix()}"
    migrate.upgrade(url)
    settings = Settings(database_url=url, data_dir=tmp_path, secret_key="k")
    container = build(settings)
    try:
        app = create_app(settings, container)
        assert app.state.session_factory is container.session_factory
        uow = app.state.uow_factory()
        assert uow.session_factory is container.session_factory
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200
            assert client.get("/api/v1/lots").status_code == 401
    finally:
        container.close()


def test_openapi_documents_the_webhooks_body_and_headers(gw_env: Env) -> None:
    spec = gw_env.client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/payments/webhook"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == [
        "event",
        "provider",
        "provider_txn_id",
        "reference",
        "amount_vnd",
    ]
    assert body["properties"]["amount_vnd"]["exclusiveMinimum"] == 0
    headers = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}
    assert set(headers) == {"X-Signature", "X-Signature-Timestamp", "Idempotency-Key"}
    assert all("required" in h["description"] for h in headers.values())
    assert {"400", "401", "404", "409", "413", "422"} <= set(op["responses"])
    # Errors of non-JSON routes are documented as the JSON they are.
    html = spec["paths"]["/api/v1/invoices/{invoice_id}/html"]["get"]["responses"]
    assert set(html["404"]["content"]) == {"application/json"}
