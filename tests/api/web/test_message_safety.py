"""What pages and API errors may say: only the message catalogue's sentences. A link cannot put
its own words on a page (``?err=``/``?msg=``), and no error reveals another customer's account
("plate 54F02588 already belongs to account 26" did)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from billing.adapters import orm as b
from billing.domain.model import Owner, OwnerKind
from billing.services import add_vehicle, create_account
from gateway import messages
from gateway.auth.users import create_user
from gateway.web import navigation
from tests.api.web.conftest import PASSWORD, Env

BAIT = "Tài khoản bị khóa. Vui lòng chuyển 500.000đ vào STK 0123456789"
VICTIM_ID = 987654
VICTIM_NAME = "Phạm Bí Mật"
VICTIM_PLATE = "54F-025.88"

PUBLIC_PAGES = ("/login", "/signup", "/reset")
DRIVER_PAGES = tuple(item.href for item in navigation.DRIVER)
OPERATOR_PAGES = tuple(item.href for item in navigation.OPERATOR)
ADMIN_PAGES = tuple(item.href for item in navigation.ADMIN if item.group == "admin")


def _sign_in(env: Env, username: str) -> None:
    r = env.client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_err_and_msg_text_from_a_link_is_never_rendered(world: Env, lang: str) -> None:
    world.client.get(f"/lang/{lang}")
    for who, pages in (
        (None, PUBLIC_PAGES),
        ("driver", DRIVER_PAGES),
        ("op-a", OPERATOR_PAGES),
        ("admin", ADMIN_PAGES),
    ):
        if who:
            _sign_in(world, who)
        for path in pages:
            for query in (
                f"err={BAIT}",
                f"msg={BAIT}",
                f"done={BAIT}",
                f"error={BAIT}",
                "err=<b>x</b>",
                "msg=forbidden",
            ):
                r = world.client.get(f"{path}?{query}")
                assert r.status_code == 200, (path, r.status_code)
                assert "0123456789" not in r.text and "STK" not in r.text, path
                assert "<b>x</b>" not in r.text and "&lt;b&gt;x" not in r.text, path
                # "forbidden" is a catalogue code, but not one a link may choose.
                assert messages.text("forbidden", lang) not in r.text, path


def test_a_link_may_choose_a_code_of_our_own(world: Env) -> None:
    _sign_in(world, "driver")
    r = world.client.get("/portal?msg=payment_done")
    assert 'data-testid="flash"' in r.text and "Nạp tiền thành công." in r.text
    r = world.client.get("/portal?err=try_again")
    assert 'role="alert"' in r.text and "Có lỗi tạm thời" in r.text


@pytest.fixture()
def victim(world: Env) -> int:
    """A customer with an id and a name that stand out in any text."""
    account = create_account(world.uow(), Owner(OwnerKind.PERSON, VICTIM_NAME))
    with world.session_factory() as s:
        s.execute(
            update(b.TransportAccount).where(b.TransportAccount.id == account).values(id=VICTIM_ID)
        )
        create_user(s, "victim", PASSWORD, "driver", account_id=VICTIM_ID)
        s.commit()
    add_vehicle(world.uow(), VICTIM_ID, VICTIM_PLATE, "car_le9")
    return VICTIM_ID


def _clean(r: Any, what: str) -> None:
    assert r.status_code >= 400, (what, r.status_code, r.text[:300])
    assert str(VICTIM_ID) not in r.text, (what, r.text[:500])
    assert VICTIM_NAME not in r.text, (what, r.text[:500])


def test_no_page_or_api_error_names_another_account(world: Env, victim: int) -> None:
    an = world.demo.accounts["an"]  # type: ignore[attr-defined]
    c = world.client
    headers = world.auth("driver")
    # Someone else's plate, on the page and in the API.
    _sign_in(world, "driver")
    _clean(
        c.post("/portal/vehicles", data={"plate": VICTIM_PLATE, "vehicle_class": "car_le9"}), "page"
    )
    assert (
        "đã được đăng ký ở một tài khoản khác"
        in c.post("/portal/vehicles", data={"plate": "54F02588", "vehicle_class": "car_le9"}).text
    )
    api = c.post(
        f"/api/v1/accounts/{an}/vehicles",
        json={"plate": VICTIM_PLATE, "vehicle_class": "car_le9"},
        headers=headers,
    )
    _clean(api, "api add vehicle")
    assert api.status_code == 409 and "another account" in api.json()["detail"]
    # The other account's own resources.
    for method, path, body in (
        ("GET", f"/api/v1/accounts/{victim}", None),
        ("GET", f"/api/v1/accounts/{victim}/vehicles", None),
        ("GET", f"/api/v1/accounts/{victim}/topups", None),
        ("GET", f"/api/v1/accounts/{victim}/statement", None),
        ("POST", f"/api/v1/accounts/{victim}/topups", {"amount_vnd": 100_000}),
        ("PUT", f"/api/v1/accounts/{victim}/auto-topup", {"enabled": False}),
        (
            "POST",
            f"/api/v1/accounts/{victim}/vehicles",
            {"plate": "30K-111.22", "vehicle_class": "car_le9"},
        ),
    ):
        _clean(c.request(method, path, json=body, headers=headers), f"{method} {path}")
    with world.session_factory() as s:
        vid = s.scalar(select(b.Vehicle.id).where(b.Vehicle.account_id == victim))
    _clean(c.delete(f"/api/v1/accounts/{an}/vehicles/{vid}", headers=headers), "api delete")
    r = c.post(f"/portal/vehicles/{vid}/remove")
    assert str(VICTIM_ID) not in r.text and VICTIM_NAME not in r.text and 'role="alert"' in r.text
    # Signing up with someone else's plate says it is taken, not by whom.
    c.post("/logout")
    r = c.post(
        "/signup",
        data={
            "full_name": "X",
            "phone": "0911111111",
            "plate": VICTIM_PLATE,
            "vehicle_class": "car_le9",
            "password": "password-1",
            "password2": "password-1",
        },
    )
    _clean(r, "signup")
