"""The admin's own pages: users and grants, accounts, refunds, passes, reconciliation, audit."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from billing.adapters import orm as b
from billing.services.seed import CENTRAL_LOT
from gateway.orm import AuditEntry
from tests.api.web.conftest import PASSWORD, Env
from tests.api.web.helpers import stay

ADMIN_PAGES = (
    "/admin/users",
    "/admin/accounts",
    "/admin/refunds",
    "/admin/passes",
    "/admin/reconciliation",
    "/admin/audit",
)


def _sign_in(env: Env, username: str) -> None:
    r = env.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303


def _audit(env: Env, action: str) -> list[AuditEntry]:
    """What the admin did (the seed's own lines are the system's)."""
    with env.session_factory() as s:
        stmt = select(AuditEntry).where(AuditEntry.action == action, AuditEntry.username == "admin")
        return list(s.scalars(stmt))


def test_admins_have_their_own_menu_and_pages(world: Env) -> None:
    _sign_in(world, "op-b")
    assert 'data-testid="admin-menu"' not in world.client.get("/dashboard").text
    for path in ADMIN_PAGES:
        assert world.client.get(path).status_code == 403, path
    _sign_in(world, "admin")
    menu = world.client.get("/dashboard").text
    assert 'data-testid="admin-menu"' in menu
    for path in ADMIN_PAGES:
        r = world.client.get(path)
        assert r.status_code == 200, path
        assert f'href="{path}"' in r.text, path


def test_users_are_created_and_granted_with_an_audit_line(world: Env) -> None:
    _sign_in(world, "admin")
    c = world.client
    r = c.post(
        "/admin/users",
        data={"username": "Thu.Ha", "role": "operator", "password": "a-long-password"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/users?done=user_created"
    page = c.get(r.headers["location"]).text
    assert 'data-user="thu.ha"' in page and "Đã tạo người dùng" in page
    r = c.post("/admin/users/thu.ha/grants", data={"lot_id": CENTRAL_LOT}, follow_redirects=False)
    assert r.status_code == 303
    assert f"{CENTRAL_LOT}</span>" in c.get("/admin/users").text
    (created,) = _audit(world, "user.create")
    assert created.username == "admin" and created.detail["username"] == "thu.ha"
    assert _audit(world, "user.grant")[0].username == "admin"
    # A rule broken is said on the page, not in the URL.
    again = c.post(
        "/admin/users",
        data={"username": "thu.ha", "role": "operator", "password": "a-long-password"},
    )
    assert again.status_code == 422 and "already exists" in again.text
    driver = c.post(
        "/admin/users", data={"username": "x", "role": "driver", "password": "a-long-password"}
    )
    assert driver.status_code == 422 and 'data-testid="error"' in driver.text
    # ?done= takes codes only: any other text is not shown.
    assert "Pay 500" not in c.get("/admin/users", params={"done": "Pay 500.000 to 0123"}).text


def _fare_entry(env: Env) -> tuple[int, int]:
    stay(env, CENTRAL_LOT, "30A-123.45", hours=1.5)
    with env.session_factory() as s:
        entry = s.scalars(select(b.JournalEntry).where(b.JournalEntry.kind == "fare")).one()
        assert entry.account_id is not None
        return entry.id, entry.account_id


def _balance(env: Env, account_id: int) -> int:
    with env.session_factory() as s:
        acct = s.get(b.TransportAccount, account_id)
        assert acct is not None
        return int(acct.balance_vnd)


def test_a_refund_from_the_statement_is_made_once_and_audited(world: Env) -> None:
    entry_id, account_id = _fare_entry(world)
    before = _balance(world, account_id)
    _sign_in(world, "admin")
    c = world.client
    statement = c.get(f"/admin/accounts/{account_id}").text
    assert f'href="/admin/refunds?entry={entry_id}"' in statement
    form = c.get("/admin/refunds", params={"entry": entry_id}).text
    assert 'data-testid="original"' in form
    request_id = re.search(r'name="request_id" value="([0-9a-f]+)"', form)
    assert request_id
    data = {
        "journal_entry_id": str(entry_id),
        "amount_vnd": "20.000",
        "reason": "Khách phàn nàn",
        "request_id": request_id.group(1),
    }
    for _ in range(2):  # a double click sends the same form twice
        r = c.post("/admin/refunds", data=data, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith("done=refund_done")
    assert _balance(world, account_id) == before + 20_000
    (audited,) = _audit(world, "refund")
    assert audited.username == "admin" and audited.detail["amount_vnd"] == 20_000
    assert "data-refund=" in c.get("/admin/refunds").text
    # More than is left is refused on the page; nothing moves.
    too_much = c.post(
        "/admin/refunds", data={**data, "amount_vnd": "999999", "request_id": "other-request"}
    )
    assert too_much.status_code == 422 and 'data-testid="error"' in too_much.text
    assert _balance(world, account_id) == before + 20_000
    bad = c.post("/admin/refunds", data={**data, "amount_vnd": "-5", "request_id": "third-one"})
    assert bad.status_code == 422 and "Số tiền không hợp lệ" in bad.text


def test_account_status_change_is_audited(world: Env) -> None:
    _, account_id = _fare_entry(world)
    _sign_in(world, "admin")
    r = world.client.post(
        f"/admin/accounts/{account_id}/status", data={"status": "suspended"}, follow_redirects=False
    )
    assert r.status_code == 303
    page = world.client.get(r.headers["location"]).text
    assert "tạm khóa" in page
    with world.session_factory() as s:
        acct = s.get(b.TransportAccount, account_id)
        assert acct is not None and acct.status == "suspended"
    assert _audit(world, "account.status")[0].detail == {"status": "suspended"}
    found = world.client.get("/admin/accounts", params={"q": "30A-123.45"}).text
    assert f'data-account="{account_id}"' in found


def test_a_pass_is_sold_once_per_form(world: Env) -> None:
    from billing import services

    demo = world.demo
    assert demo is not None
    account_id = demo.accounts["an"]  # type: ignore[attr-defined]
    services.top_up(world.uow(), account_id, 5_000_000, "test-bank", "pass-money")
    before = _balance(world, account_id)
    _sign_in(world, "admin")
    c = world.client
    page = c.get("/admin/passes").text
    request_id = re.search(r'name="request_id" value="([0-9a-f]+)"', page)
    assert request_id
    data = {
        "plate": "30a12345",
        "lot_id": CENTRAL_LOT,
        "kind": "day",
        "start": date.today().isoformat(),
        "request_id": request_id.group(1),
    }
    for _ in range(2):
        r = c.post("/admin/passes", data=data, follow_redirects=False)
        assert r.status_code == 303
    with world.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(b.MonthlyPass)) == 1
    assert "30A-123.45" in c.get("/admin/passes").text
    assert _balance(world, account_id) == before - 3_000_000  # the day pass, paid once
    unknown = c.post("/admin/passes", data={**data, "plate": "99Z-999.99", "request_id": "x" * 10})
    assert unknown.status_code == 422 and "Không có xe nào mang biển số này" in unknown.text


def test_reconciliation_and_audit_pages(world: Env) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    _sign_in(world, "admin")
    c = world.client
    page = c.get("/admin/reconciliation").text
    assert 'data-testid="reconciliation-result"' in page
    assert f'data-lot="{CENTRAL_LOT}"' in page
    bad = c.get("/admin/reconciliation", params={"day": "yesterday"})
    assert bad.status_code == 200 and "Ngày không hợp lệ" in bad.text
    audit = c.get("/admin/audit", params={"action": "auth.sign_in", "username": "admin"}).text
    assert "auth.sign_in" in audit and 'data-audit="' in audit
    nothing = c.get("/admin/audit", params={"target": "user:999999"}).text
    assert 'data-audit="' not in nothing
