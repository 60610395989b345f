"""Access before validation, on every route: a request naming someone else's account, lot,
passage, session, invoice or vehicle is refused (403, or 404 where nothing exists) whatever
else is wrong with it. It must never be a 422 that says what was wrong with the body (the
route looked at the body before it checked who asked), and never any data.

The routes come from the OpenAPI document, so a route added later is walked too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from billing.adapters import orm as b
from billing.services.intents import open_topup_intent
from billing.services.seed import AIRPORT_LOT
from tests.api.web.conftest import PASSWORD, Env, issue_invoices
from tests.api.web.helpers import settle, stay

# Path parameters that name something belonging to an account, a lot or a user.
PROTECTED = frozenset(
    {
        "account_id",
        "lot_id",
        "passage_id",
        "session_id",
        "invoice_id",
        "vehicle_id",
        "username",
        "reference",
    }
)
BAD_JSON = {"amount_vnd": "lots", "plate": 12, "reason": [], "enabled": "maybe", "tariff_id": {}}


@dataclass(frozen=True)
class Others:
    """Ids of things that belong to driver2's account ("binh") and to the airport lot."""

    values: dict[str, Any]
    secrets: tuple[str, ...]  # text that must never appear in an answer


@pytest.fixture()
def others(world: Env, invoice_maker: object) -> Others:
    binh = world.demo.accounts["binh"]  # type: ignore[attr-defined]
    trip = stay(world, AIRPORT_LOT, "29-AA 123.45")  # binh's motorbike at the airport lot
    assert trip.passage_id and trip.session_id
    assert issue_invoices(world, invoice_maker) == 1
    intent = open_topup_intent(world.uow(), binh, "vietbank", 150_000)
    with world.session_factory() as s:
        vehicle = s.scalar(select(b.Vehicle.id).where(b.Vehicle.account_id == binh))
        from einvoice.db import invoices

        invoice = s.scalar(select(invoices.c.id))
    return Others(
        {
            "account_id": binh,
            "lot_id": AIRPORT_LOT,
            "passage_id": trip.passage_id,
            "session_id": trip.session_id,
            "invoice_id": invoice,
            "vehicle_id": vehicle,
            "username": "driver2",
            "tariff_id": "airport",
            "reference": intent.reference,
        },
        ("Trần Thị Bình", "29-AA 123.45", "29AA12345"),
    )


def _requests(
    world: Env, others: Others, operator: bool
) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(method, url, query, body options) of every route that names something protected:
    a path id, or for an operator a ``lot_id`` filter; every other query value is invalid."""
    out = []
    for path, item in world.client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method, op in item.items():
            params = op.get("parameters", [])
            in_path = [p["name"] for p in params if p["in"] == "path"]
            in_query = [p["name"] for p in params if p["in"] == "query"]
            if not (PROTECTED & set(in_path) or (operator and "lot_id" in in_query)):
                continue
            url = path.format(**{name: others.values[name] for name in in_path})
            query = {n: others.values["lot_id"] if n == "lot_id" else "-1x" for n in in_query}
            bodies: dict[str, Any] = {"none": None}
            if "requestBody" in op:
                bodies = {"bad fields": {"json": BAD_JSON}, "not json": {"content": b"{nope"}}
            out.append((method.upper(), url, query, bodies))
    return out


@pytest.mark.parametrize("username", ["driver", "op-a"])
def test_every_route_refuses_before_it_validates(world: Env, others: Others, username: str) -> None:
    operator = username.startswith("op-")
    requests = _requests(world, others, operator)
    walked = {url.split("?")[0] for _, url, _, _ in requests}
    assert any("/auto-topup" in u for u in walked) and any("/review/" in u for u in walked)
    headers = {**world.auth(username), "Content-Type": "application/json"}
    for method, url, query, bodies in requests:
        for kind, body in bodies.items():
            r = world.client.request(method, url, params=query, headers=headers, **(body or {}))
            where = f"{username}: {method} {url} ({kind}): {r.status_code} {r.text[:200]}"
            assert r.status_code in (403, 404), where
            assert r.json()["detail"] != "Not Found", where  # the route exists: ours said no
            assert set(r.json()) == {"detail"}, where
            assert not any(secret in r.text for secret in others.secrets), where


def test_the_owner_still_gets_the_validation_error(world: Env) -> None:
    """The check comes first, it does not replace validation: the owner hears what is wrong."""
    own = world.demo.accounts["an"]  # type: ignore[attr-defined]
    url = f"/api/v1/accounts/{own}/auto-topup"
    r = world.client.put(url, headers=world.auth("driver"), json=BAD_JSON)
    assert r.status_code == 422
    r = world.client.put(
        url,
        headers={**world.auth("driver"), "Content-Type": "application/json"},
        content=b"{nope",
    )
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"


def test_the_dashboard_forms_act_only_on_the_operators_lots(world: Env) -> None:
    """The review forms of the dashboard act through the same function as the API: an
    operator of the central lot cannot charge or waive a passage of the airport lot."""
    held = settle(
        world, AIRPORT_LOT, "exit", "29-AA 123.45", datetime.now(UTC) - timedelta(minutes=1)
    )
    assert held.review  # an exit without entry: let out, billed later by an operator
    r = world.client.post(
        "/login", data={"username": "op-a", "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303
    own = {"origin": "http://testserver"}
    for action, form in (("charge", {"amount_vnd": "50000"}), ("waive", {"reason": "x"})):
        r = world.client.post(
            f"/dashboard/review/{held.passage_id}/{action}",
            data=form,
            headers=own,
            follow_redirects=False,
        )
        # Refused: back to the operator's own queue, which says why.
        assert r.status_code == 303 and r.headers["location"] == "/dashboard/review?err=no_access"
        page = world.client.get(r.headers["location"])
        assert "Bạn không có quyền với mục này." in page.text
        assert "29-AA 123.45" not in page.text  # the other lot's passage is not on the page
    with world.session_factory() as s:
        passage = s.get(b.Passage, held.passage_id)
        assert passage is not None and passage.review_status == "pending"
        assert s.scalar(select(b.JournalEntry.id).where(b.JournalEntry.kind == "fare")) is None
