"""Accounts and vehicles: a driver sees and changes only their own account."""

from __future__ import annotations

import pytest

from tests.api.web.conftest import Env


def _acct(env: Env, name: str) -> int:
    return int(env.demo.accounts[name])  # type: ignore[attr-defined]


def test_driver_reads_own_account_only(world: Env) -> None:
    h = world.auth("driver")
    own, other = _acct(world, "an"), _acct(world, "binh")
    r = world.client.get(f"/api/v1/accounts/{own}", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "Nguyễn Văn An" and body["balance_vnd"] == 500_000
    assert body["low_balance"] is False
    assert world.client.get(f"/api/v1/accounts/{other}", headers=h).status_code == 403
    assert world.client.get(f"/api/v1/accounts/{other}/vehicles", headers=h).status_code == 403
    assert world.client.get("/api/v1/accounts", headers=h).status_code == 403


def test_low_balance_flag(world: Env) -> None:
    h = world.auth("admin")
    body = world.client.get(f"/api/v1/accounts/{_acct(world, 'cuong')}", headers=h).json()
    assert body["balance_vnd"] == 10_000 and body["low_balance"] is True


def test_operators_do_not_read_accounts(world: Env) -> None:
    h = world.auth("op-a")
    assert world.client.get(f"/api/v1/accounts/{_acct(world, 'an')}", headers=h).status_code == 403


def test_anonymous_gets_401(world: Env) -> None:
    for path in ("/api/v1/accounts", f"/api/v1/accounts/{_acct(world, 'an')}"):
        assert world.client.get(path).status_code == 401


def test_admin_lists_and_filters_accounts(world: Env) -> None:
    h = world.auth("admin")
    r = world.client.get("/api/v1/accounts?limit=2", headers=h)
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 4 and len(page["items"]) == 2 and page["limit"] == 2
    page2 = world.client.get("/api/v1/accounts?limit=2&offset=2", headers=h).json()
    assert {a["id"] for a in page["items"]}.isdisjoint({a["id"] for a in page2["items"]})
    found = world.client.get("/api/v1/accounts?q=Sông Hồng", headers=h).json()
    assert [a["tax_code"] for a in found["items"]] == ["0101234567"]
    assert world.client.get("/api/v1/accounts?limit=0", headers=h).status_code == 422
    assert world.client.get("/api/v1/accounts?offset=-1", headers=h).status_code == 422


def test_unknown_account_is_404_for_admin(world: Env) -> None:
    assert world.client.get("/api/v1/accounts/9999", headers=world.auth("admin")).status_code == 404
    assert world.client.get("/api/v1/accounts/abc", headers=world.auth("admin")).status_code == 422


def test_vehicles_add_list_remove(world: Env) -> None:
    h = world.auth("driver")
    own = _acct(world, "an")
    before = world.client.get(f"/api/v1/accounts/{own}/vehicles", headers=h).json()
    assert {v["plate_text"] for v in before} == {"30A-123.45", "29-B1 678.90"}
    r = world.client.post(
        f"/api/v1/accounts/{own}/vehicles",
        headers=h,
        json={"plate": "51F-888.88", "vehicle_class": "car_le9"},
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["id"]
    assert r.json()["plate_text"] == "51F-888.88"
    after = world.client.get(f"/api/v1/accounts/{own}/vehicles", headers=h).json()
    assert len(after) == 3
    r = world.client.delete(f"/api/v1/accounts/{own}/vehicles/{new_id}", headers=h)
    assert r.status_code == 204
    assert len(world.client.get(f"/api/v1/accounts/{own}/vehicles", headers=h).json()) == 2
    # Removing again: it is gone.
    r = world.client.delete(f"/api/v1/accounts/{own}/vehicles/{new_id}", headers=h)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"plate": "not a plate", "vehicle_class": "car_le9"}, 409),
        ({"plate": "29-AA 123.45", "vehicle_class": "motorbike"}, 409),  # binh's plate
        ({"plate": "51F-888.88", "vehicle_class": "spaceship"}, 422),
        ({"vehicle_class": "car_le9"}, 422),
    ],
)
def test_bad_vehicles(world: Env, body: dict[str, str], code: int) -> None:
    h = world.auth("driver")
    r = world.client.post(f"/api/v1/accounts/{_acct(world, 'an')}/vehicles", headers=h, json=body)
    assert r.status_code == code, r.text


def test_driver_cannot_touch_another_accounts_vehicles(world: Env) -> None:
    h = world.auth("driver")
    other = _acct(world, "binh")
    r = world.client.post(
        f"/api/v1/accounts/{other}/vehicles",
        headers=h,
        json={"plate": "51F-888.88", "vehicle_class": "car_le9"},
    )
    assert r.status_code == 403
    theirs = world.client.get(
        f"/api/v1/accounts/{other}/vehicles", headers=world.auth("driver2")
    ).json()
    r = world.client.delete(f"/api/v1/accounts/{other}/vehicles/{theirs[0]['id']}", headers=h)
    assert r.status_code == 403
    # Nor through their own account's path with someone else's vehicle id.
    own = _acct(world, "an")
    r = world.client.delete(f"/api/v1/accounts/{own}/vehicles/{theirs[0]['id']}", headers=h)
    assert r.status_code == 404


def test_auto_topup_on_and_off(world: Env) -> None:
    h = world.auth("driver")
    own = _acct(world, "an")
    r = world.client.put(
        f"/api/v1/accounts/{own}/auto-topup",
        headers=h,
        json={"enabled": True, "threshold_vnd": 50_000, "amount_vnd": 200_000},
    )
    assert r.status_code == 200, r.text
    assert r.json()["auto_topup_threshold_vnd"] == 50_000
    assert r.json()["auto_topup_amount_vnd"] == 200_000
    r = world.client.put(f"/api/v1/accounts/{own}/auto-topup", headers=h, json={"enabled": False})
    assert r.status_code == 200 and r.json()["auto_topup_amount_vnd"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"enabled": True},
        {"enabled": True, "threshold_vnd": 50_000, "amount_vnd": 0},
        {"enabled": True, "threshold_vnd": -1, "amount_vnd": 100_000},
        {"enabled": True, "threshold_vnd": 50_000, "amount_vnd": 100_000.5},
    ],
)
def test_bad_auto_topup(world: Env, body: dict[str, object]) -> None:
    h = world.auth("driver")
    r = world.client.put(f"/api/v1/accounts/{_acct(world, 'an')}/auto-topup", headers=h, json=body)
    assert r.status_code == 422


def test_topup_history(world: Env) -> None:
    from billing.services import credit_topup, open_topup_intent

    intent = open_topup_intent(world.uow(), _acct(world, "an"), "momo", 150_000)
    credit_topup(world.uow(), "momo", intent.reference, "MM-9", 150_000)  # its verified webhook
    h = world.auth("driver")
    r = world.client.get(f"/api/v1/accounts/{_acct(world, 'an')}/topups", headers=h)
    assert r.status_code == 200
    items = r.json()["items"]
    # The seed's opening balance is an operator credit, not a top-up.
    assert [(t["provider"], t["amount_vnd"]) for t in items] == [("momo", 150_000)]
    r = world.client.get(f"/api/v1/accounts/{_acct(world, 'binh')}/topups", headers=h)
    assert r.status_code == 403
