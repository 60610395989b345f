"""Sign-in with passwords, bearer tokens for the API, cookies for pages, and roles."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.auth.passwords import hash_password, verify_password
from gateway.auth.tokens import COOKIE_NAME, TokenSigner
from gateway.auth.users import UserError, create_user
from gateway.orm import AuditEntry, User
from tests.api.web.conftest import PASSWORD, Env


def test_passwords_are_argon2_hashed_and_verified() -> None:
    h = hash_password("s3cret-enough")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "s3cret-enough")
    assert not verify_password(h, "s3cret-enougH")
    assert not verify_password("not a hash", "whatever")
    with pytest.raises(ValueError):
        hash_password("short")


def test_token_from_password_and_me(gw_env: Env) -> None:
    r = gw_env.client.get("/api/v1/me", headers=gw_env.auth("op-a"))
    assert r.status_code == 200
    body = r.json()
    assert body["role"] == "operator"
    assert body["lot_ids"] == ["LOT-A"]
    r = gw_env.client.get("/api/v1/me", headers=gw_env.auth("op-b"))
    assert r.json()["companies"] == ["OP-B"]
    r = gw_env.client.get("/api/v1/me", headers=gw_env.auth("driver"))
    assert r.json()["account_id"] == "1"


@pytest.mark.parametrize(
    ("username", "password"), [("driver", "wrong password"), ("nobody", PASSWORD)]
)
def test_wrong_credentials_get_401(gw_env: Env, username: str, password: str) -> None:
    r = gw_env.client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 401


def test_token_request_without_fields_is_422(gw_env: Env) -> None:
    assert gw_env.client.post("/api/v1/auth/token", data={}).status_code == 422


@pytest.mark.parametrize(
    "header",
    [None, "Bearer garbage", "Bearer ", "Basic dXNlcjpwYXNz"],
)
def test_me_without_valid_token_is_401(gw_env: Env, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    assert gw_env.client.get("/api/v1/me", headers=headers).status_code == 401


def test_token_signed_with_another_key_is_rejected(gw_env: Env) -> None:
    with gw_env.session_factory() as s:
        user = s.scalars(select(User).where(User.username == "admin")).one()
        forged = TokenSigner("another-secret").issue("api", user.id, user.password_hash)
        cookie_token = TokenSigner("test-secret").issue("cookie", user.id, user.password_hash)
    for token in (forged, cookie_token):
        r = gw_env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401


def test_password_change_invalidates_tokens(gw_env: Env) -> None:
    headers = gw_env.auth("driver")
    assert gw_env.client.get("/api/v1/me", headers=headers).status_code == 200
    with gw_env.session_factory() as s:
        user = s.scalars(select(User).where(User.username == "driver")).one()
        user.password_hash = hash_password("a brand new password")
        s.commit()
    assert gw_env.client.get("/api/v1/me", headers=headers).status_code == 401


def test_inactive_user_cannot_sign_in(gw_env: Env) -> None:
    headers = gw_env.auth("op-b")
    with gw_env.session_factory() as s:
        s.scalars(select(User).where(User.username == "op-b")).one().active = False
        s.commit()
    assert gw_env.client.get("/api/v1/me", headers=headers).status_code == 401
    r = gw_env.client.post("/api/v1/auth/token", data={"username": "op-b", "password": PASSWORD})
    assert r.status_code == 401


def test_page_sign_in_sets_cookie_and_redirects_by_role(world: Env) -> None:
    c = world.client
    r = c.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/dashboard")
    r = c.post(
        "/login",
        data={"username": "op-a", "password": PASSWORD, "next": "/dashboard"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"
    assert COOKIE_NAME in r.cookies
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert c.get("/dashboard").status_code == 200
    # An operator is not a driver.
    assert c.get("/portal").status_code == 403
    c.post("/logout")
    assert c.get("/dashboard", follow_redirects=False).status_code == 303


def test_driver_lands_on_portal_and_cannot_open_dashboard(world: Env) -> None:
    c = world.client
    r = c.post("/login", data={"username": "driver", "password": PASSWORD}, follow_redirects=False)
    assert r.headers["location"] == "/portal"
    assert c.get("/portal").status_code == 200
    assert c.get("/dashboard").status_code == 403


def test_bad_page_sign_in_shows_error(gw_env: Env) -> None:
    r = gw_env.client.post("/login", data={"username": "driver", "password": "nope nope"})
    assert r.status_code == 401
    assert "Sai số điện thoại / tên đăng nhập hoặc mật khẩu" in r.text
    assert 'data-error-for="password"' in r.text  # next to its field


def test_sign_in_never_redirects_off_site(gw_env: Env) -> None:
    r = gw_env.client.post(
        "/login",
        data={"username": "driver", "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/portal"


def test_language_switch(gw_env: Env) -> None:
    c = gw_env.client
    assert "Đăng nhập" in c.get("/login").text
    c.get("/lang/en", headers={"referer": "http://testserver/login"})
    assert "Sign in" in c.get("/login").text
    c.get("/lang/xx")
    assert "Sign in" in c.get("/login").text


def test_sign_ins_are_audited(gw_env: Env) -> None:
    r = gw_env.client.post("/api/v1/auth/token", data={"username": "op-a", "password": PASSWORD})
    assert r.status_code == 200
    with gw_env.session_factory() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.username == "op-a")).all()
    assert "auth.token" in actions


def test_create_user_rules(gw_env: Env) -> None:
    with gw_env.session_factory() as s:
        with pytest.raises(UserError):
            create_user(s, "driver", PASSWORD, "driver", account_id=9)
        with pytest.raises(UserError):
            create_user(s, "x", PASSWORD, "superuser")
        with pytest.raises(UserError):
            create_user(s, "y", PASSWORD, "driver")  # no account
        with pytest.raises(UserError):
            create_user(s, "z", "short", "admin")
