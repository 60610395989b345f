"""Admin user management over the API, and who may not use it."""

from __future__ import annotations

from tests.api.web.conftest import PASSWORD, Env


def test_admin_lists_creates_and_grants(gw_env: Env) -> None:
    h = gw_env.auth("admin")
    c = gw_env.client
    names = {u["username"] for u in c.get("/api/v1/users", headers=h).json()}
    assert names == {"admin", "op-a", "op-b", "op-none", "driver", "driver2"}
    r = c.post(
        "/api/v1/users",
        headers=h,
        json={"username": "Op-C", "password": PASSWORD, "role": "operator"},
    )
    assert r.status_code == 201 and r.json()["username"] == "op-c"
    r = c.post("/api/v1/users/op-c/grants", headers=h, json={"lot_id": "LOT-C"})
    assert r.status_code == 201 and r.json()["lots"] == ["LOT-C"]
    # Granting twice is harmless.
    r = c.post("/api/v1/users/op-c/grants", headers=h, json={"lot_id": "LOT-C"})
    assert r.json()["lots"] == ["LOT-C"]
    assert gw_env.client.get("/api/v1/me", headers=gw_env.auth("op-c")).json()["lot_ids"] == [
        "LOT-C"
    ]


def test_bad_user_requests(gw_env: Env) -> None:
    h = gw_env.auth("admin")
    c = gw_env.client
    dup = {"username": "driver", "password": PASSWORD, "role": "driver", "account_id": "5"}
    assert c.post("/api/v1/users", headers=h, json=dup).status_code == 409
    bad_role = {"username": "q", "password": PASSWORD, "role": "root"}
    assert c.post("/api/v1/users", headers=h, json=bad_role).status_code == 422
    short = {"username": "q", "password": "x", "role": "admin"}
    assert c.post("/api/v1/users", headers=h, json=short).status_code == 422
    assert c.post("/api/v1/users/driver/grants", headers=h, json={"lot_id": "L"}).status_code == 409
    assert c.post("/api/v1/users/ghost/grants", headers=h, json={"lot_id": "L"}).status_code == 404
    assert c.post("/api/v1/users/op-a/grants", headers=h, json={}).status_code == 422


def test_only_admins_manage_users(gw_env: Env) -> None:
    c = gw_env.client
    assert c.get("/api/v1/users").status_code == 401
    for who in ("driver", "op-a"):
        h = gw_env.auth(who)
        assert c.get("/api/v1/users", headers=h).status_code == 403
        body = {"username": "evil", "password": PASSWORD, "role": "admin"}
        assert c.post("/api/v1/users", headers=h, json=body).status_code == 403


def test_demo_logins_are_seeded_once(world: Env) -> None:
    from gateway.auth.demo import seed_demo_users

    with world.session_factory() as s:
        first = seed_demo_users(s, world.demo)
        s.commit()
        again = seed_demo_users(s, world.demo)
        s.commit()
    assert first == again
    assert {role for _, _, role in first} == {"operator", "driver", "admin"}
    creds = {role: (u, p) for u, p, role in first}
    op_user, op_pass = creds["operator"]
    r = world.client.post("/api/v1/auth/token", data={"username": op_user, "password": op_pass})
    token = r.json()["access_token"]
    lots = world.client.get("/api/v1/lots", headers={"Authorization": f"Bearer {token}"}).json()
    assert {lot["id"] for lot in lots} == set(world.demo.lots)  # type: ignore[attr-defined]
    drv_user, drv_pass = creds["driver"]
    r = world.client.post("/api/v1/auth/token", data={"username": drv_user, "password": drv_pass})
    me = world.client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    ).json()
    assert me["account_id"] == str(world.demo.accounts["an"])  # type: ignore[attr-defined]
    # The demo driver also signs in with the phone their SMS notices go to.
    r = world.client.post(
        "/api/v1/auth/token", data={"username": "0912 000 001", "password": drv_pass}
    )
    assert r.status_code == 200
    with world.session_factory() as s:
        from billing.adapters import orm as b

        account = s.get(b.TransportAccount, world.demo.accounts["an"])  # type: ignore[attr-defined]
        assert account is not None and account.phone == "+84912000001"


def test_audit_log_for_admins_only(world: Env) -> None:
    from billing.services.seed import CENTRAL_LOT

    h = world.auth("admin")
    r = world.client.put(
        f"/api/v1/lots/{CENTRAL_LOT}/tariff", headers=h, json={"tariff_id": "airport"}
    )
    assert r.status_code == 200 and r.json()["tariff_id"] == "airport"
    log = world.client.get("/api/v1/audit?action=lot.tariff", headers=h).json()
    assert [(e["username"], e["target_id"], e["detail"]) for e in log["items"]] == [
        ("admin", CENTRAL_LOT, {"tariff_id": "airport"})
    ]
    assert world.client.get("/api/v1/audit?username=op-a", headers=h).status_code == 200
    from datetime import datetime

    at = datetime.fromisoformat(log["items"][0]["at"])
    assert at.utcoffset() is not None  # aware on SQLite too, like every time the API returns
    for who in ("op-a", "driver"):
        assert world.client.get("/api/v1/audit", headers=world.auth(who)).status_code == 403
    assert world.client.get("/api/v1/audit").status_code == 401


def test_lot_tariff_rules(world: Env) -> None:
    from billing.services.seed import CENTRAL_LOT

    h = world.auth("admin")
    url = f"/api/v1/lots/{CENTRAL_LOT}/tariff"
    assert world.client.put(url, headers=h, json={"tariff_id": "nope"}).status_code == 422
    assert world.client.put(url, headers=h, json={}).status_code == 422
    r = world.client.put("/api/v1/lots/nowhere/tariff", headers=h, json={"tariff_id": "airport"})
    assert r.status_code == 404
    r = world.client.put(url, headers=world.auth("op-a"), json={"tariff_id": "airport"})
    assert r.status_code == 403
