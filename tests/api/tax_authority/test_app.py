"""App set-up: demo seller seeding, admin token, OpenAPI."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from simulator.tax_authority import create_app
from tests.api.tax_authority.conftest import make_settings


def test_demo_seller_is_seeded_once_and_survives_restart(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        seed_demo_seller=True,
        demo_seller_tax_code="0109876543",
        demo_seller_cash_register_code="PK001",
    )
    for _ in range(2):  # a restart re-seeds without a duplicate
        app = create_app(settings)
        with TestClient(app) as client:
            sellers = client.get("/api/admin/sellers").json()
        app.state.engine.dispose()
        assert [(s["tax_code"], s["cash_register_code"]) for s in sellers] == [
            ("0109876543", "PK001")
        ]


def test_demo_seller_without_a_valid_code_gets_one(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        seed_demo_seller=True,
        demo_seller_tax_code="0109876543",
        demo_seller_cash_register_code="",
    )
    app = create_app(settings)
    with TestClient(app) as client:
        (seller,) = client.get("/api/admin/sellers").json()
    assert seller["cash_register_code"] == "76543"


def test_admin_token_guards_registration(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, admin_token="s3cret"))
    payload = {"tax_code": "0101234567", "name": "A", "cash_register_code": "41849"}
    with TestClient(app) as client:
        assert client.post("/api/admin/sellers", json=payload).status_code == 401
        assert client.get("/api/admin/sellers").status_code == 401
        ok = client.post("/api/admin/sellers", json=payload, headers={"X-Admin-Token": "s3cret"})
        assert ok.status_code == 201
        # The lookup and message API stay open, like the real service's public endpoints.
        assert client.get("/api/errors").status_code == 200
        schema = client.get("/openapi.json").json()
        assert "/api/tdiep" in schema["paths"]


def test_without_a_configured_key_the_demo_key_countersigns(tmp_path: Path) -> None:
    from einvoice import tdiep
    from einvoice.verify import verify_invoice
    from tests.api.tax_authority.conftest import register_demo
    from tests.unit.tax_authority.factory import build_invoice, envelope, make_keys

    keyset = make_keys(tmp_path / "seller-keys")
    app = create_app(make_settings(tmp_path))  # no countersign given, no TAXAUTH_PKCS12
    register_demo(app)
    body = envelope(
        [build_invoice(keyset.seller, mode="authority_coded")], tdiep.MessageType.CODING_REQUEST
    )
    with TestClient(app) as client:
        reply = tdiep.parse_reply(client.post("/api/tdiep", content=body).content)
    assert reply.result is not None
    (hdon,) = reply.result.invoices()
    report = verify_invoice(tdiep.hdon_bytes(hdon))
    assert report.valid, report.error
    assert {s.role for s in report.signatures} == {"seller", "authority"}
    assert (tmp_path / "keys" / "tax-authority.p12").exists()  # made on first use, kept


def test_trusted_ca_setting(tmp_path: Path) -> None:
    from einvoice import keys, tdiep
    from tests.api.tax_authority.conftest import register_demo
    from tests.unit.tax_authority.factory import build_invoice, envelope, make_keys

    keyset = make_keys(tmp_path / "k")
    _, stranger_ca = keys.make_ca("Some other CA")
    stranger_pem = tmp_path / "stranger.pem"
    stranger_pem.write_bytes(keys.cert_pem(stranger_ca))

    def first_result(ca_pem: Path, number: int) -> tdiep.InvoiceResult:
        app = create_app(make_settings(tmp_path / str(number), trusted_ca_pem=ca_pem))
        register_demo(app)
        with TestClient(app) as client:
            answer = client.post(
                "/api/tdiep", content=envelope([build_invoice(keyset.seller, number=number)])
            )
        app.state.engine.dispose()
        reply = tdiep.parse_reply(answer.content)
        assert reply.result is not None
        return tdiep.parse_check_result(reply.result)[0]

    assert first_result(keyset.ca_pem, 1).accepted
    refused = first_result(stranger_pem, 2)
    assert not refused.accepted
    assert [r.code for r in refused.reasons] == ["E117"]
