"""The wallet's pages and forms never show another customer's account: their top-up requests
and invoices look like nothing at all, and the wallet's form errors are the catalogue's."""

from __future__ import annotations

from billing.services import open_topup_intent
from tests.api.web.conftest import PASSWORD, Env
from tests.api.web.test_message_safety import VICTIM_ID, VICTIM_NAME, _clean
from tests.api.web.test_message_safety import victim as victim  # the fixture


def test_another_customers_top_up_and_invoice_pages_are_not_found(world: Env, victim: int) -> None:
    theirs = open_topup_intent(world.uow(), victim, "momo", 300_000)
    world.client.post("/login", data={"username": "driver", "password": PASSWORD})
    r = world.client.get(f"/portal/topups/{theirs.reference}")
    assert r.status_code == 404
    _clean(r, "their top-up page")
    assert "300.000" not in r.text
    _clean(world.client.get("/portal/topups/NAPNOSUCHREFERENCE1"), "no such top-up")
    api = world.client.get(
        f"/api/v1/accounts/{VICTIM_ID}/topup-intents/{theirs.reference}",
        headers=world.auth("driver"),
    )
    _clean(api, "their intent in the API")


def test_wallet_form_errors_are_the_catalogues(world: Env, victim: int) -> None:
    world.client.post("/login", data={"username": "driver", "password": PASSWORD})
    for path, data in (
        ("/portal/topup", {"provider": "nope", "other_amount": "1"}),
        ("/portal/invoicing", {"buyer_kind": "company", "tax_code": str(VICTIM_ID)}),
    ):
        r = world.client.post(path, data=data)
        assert r.status_code == 422, path
        assert VICTIM_NAME not in r.text
        assert "Traceback" not in r.text and "DomainError" not in r.text
