"""Per-lot plate lists through the API and the operator's page; the gates act on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from tests.api.web.conftest import PASSWORD, Env
from tests.api.web.helpers import settle


def _sign_in(env: Env, username: str) -> None:
    r = env.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303


def test_the_api_adds_lists_and_removes_within_the_operators_lots(world: Env) -> None:
    c, h = world.client, world.auth("op-a")
    r = c.post(
        f"/api/v1/lots/{CENTRAL_LOT}/lists",
        headers=h,
        json={"plate": "30a12345", "kind": "blacklist", "note": "stolen"},
    )
    assert r.status_code == 201, r.text
    entry = r.json()
    assert (entry["plate_text"], entry["kind"], entry["added_by"]) == (
        "30A-123.45",
        "blacklist",
        "op-a",
    )
    again = c.post(
        f"/api/v1/lots/{CENTRAL_LOT}/lists", headers=h, json={"plate": "30A-123.45", "kind": "vip"}
    )
    assert (
        again.status_code == 409
        and again.json()["detail"] == "This plate is already on one of the lot's lists."
    )
    bad = c.post(
        f"/api/v1/lots/{CENTRAL_LOT}/lists", headers=h, json={"plate": "hello", "kind": "vip"}
    )
    assert bad.status_code == 422
    grey = c.post(
        f"/api/v1/lots/{CENTRAL_LOT}/lists", headers=h, json={"plate": "30A-999.99", "kind": "grey"}
    )
    assert grey.status_code == 422
    other = c.post(
        f"/api/v1/lots/{AIRPORT_LOT}/lists", headers=h, json={"plate": "30A-999.99", "kind": "vip"}
    )
    assert other.status_code == 403  # not op-a's lot
    listed = c.get(f"/api/v1/lots/{CENTRAL_LOT}/lists", headers=h).json()
    assert [e["plate_text"] for e in listed] == ["30A-123.45"]
    denied = settle(world, CENTRAL_LOT, "entry", "30A-123.45", datetime.now(UTC))
    assert (denied.open, denied.reason) == (False, "listed_plate")
    theirs = c.post(
        f"/api/v1/lots/{AIRPORT_LOT}/lists",
        headers=world.auth("op-b"),
        json={"plate": "29C-456.78", "kind": "vip"},
    ).json()
    assert c.delete(f"/api/v1/lot-lists/{theirs['id']}", headers=h).status_code == 403
    assert (
        c.delete(f"/api/v1/lot-lists/{entry['id']}", headers=h).json()["plate_text"] == "30A-123.45"
    )
    assert c.delete(f"/api/v1/lot-lists/{entry['id']}", headers=h).status_code == 404
    assert settle(
        world, CENTRAL_LOT, "entry", "30A-123.45", datetime.now(UTC) + timedelta(minutes=1)
    ).open
    audit = c.get("/api/v1/audit", headers=world.auth("admin")).json()
    actions = [a["action"] for a in audit["items"]]
    assert "list.add" in actions and "list.remove" in actions


def test_the_lists_page_manages_the_lists_with_errors_beside_their_fields(world: Env) -> None:
    _sign_in(world, "op-a")
    c = world.client
    page = c.get("/dashboard/lists")
    assert page.status_code == 200 and 'data-testid="list-add"' in page.text
    assert "Danh sách đen: giữ barie đóng" in page.text  # what each list does, said once
    r = c.post(
        "/dashboard/lists",
        data={"lot_id": CENTRAL_LOT, "kind": "vip", "plate": "30e24680", "note": "giám đốc"},
    )
    assert r.status_code == 200 and "Đã thêm biển số vào danh sách." in r.text
    assert 'data-list-entry="30E-246.80" data-kind="vip"' in r.text and "giám đốc" in r.text
    r = c.post(
        "/dashboard/lists", data={"lot_id": CENTRAL_LOT, "kind": "blacklist", "plate": "30E-246.80"}
    )
    assert r.status_code == 422 and 'data-error-for="plate"' in r.text
    assert "Biển số này đã có trong một danh sách của bãi." in r.text
    assert 'value="blacklist" selected' in r.text  # what was typed comes back
    r = c.post("/dashboard/lists", data={"lot_id": AIRPORT_LOT, "kind": "grey", "plate": "x"})
    assert r.status_code == 422
    for field in ("lot_id", "kind"):
        assert f'data-error-for="{field}"' in r.text
    r = c.post(
        "/dashboard/lists", data={"lot_id": CENTRAL_LOT, "kind": "vip", "plate": "not a plate"}
    )
    assert r.status_code == 422 and 'data-error-for="plate"' in r.text
    vip = c.get("/dashboard/lists?kind=vip&plate=246").text
    assert vip.count("data-list-entry=") == 1
    entry_id = vip.split('action="/dashboard/lists/')[1].split("/remove")[0]
    r = c.post(f"/dashboard/lists/{entry_id}/remove")
    assert r.status_code == 200 and "Đã xóa biển số khỏi danh sách." in r.text
    assert "data-list-entry=" not in r.text
    r = c.post(f"/dashboard/lists/{entry_id}/remove")
    assert "Không tìm thấy." in r.text
