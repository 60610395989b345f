"""Sign-up with a phone and a plate, and password reset, each proved by a code that reaches the
phone through the notification outbox (the SMS stub's inbox stands for the phone)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from billing.adapters import orm as b
from gateway.notices.stub import read_inbox
from gateway.orm import User, Verification
from tests.api.web.conftest import PASSWORD, Env

PHONE = "+84912345678"
FORM = {
    "full_name": "Lê Thị Mai",
    "phone": "0912 345 678",
    "plate": "51G-246.80",
    "vehicle_class": "car_le9",
    "email": "mai@example.vn",
    "password": "mai-password-1",
    "password2": "mai-password-1",
}


def _codes(env: Env, phone: str = PHONE) -> list[str]:
    inbox = env.settings.data_dir / "notices" / "sms.jsonl"
    return [
        re.search(r"\b(\d{6})\b", m["body"]).group(1)  # type: ignore[union-attr]
        for m in read_inbox(inbox)
        if m["recipient"] == phone
    ]


def _token(location: str) -> str:
    match = re.search(r"token=([\w-]+)", location)
    assert match, location
    return match.group(1)


def _start(env: Env, **changes: str) -> str:
    r = env.client.post("/signup", data={**FORM, **changes}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return _token(r.headers["location"])


def test_sign_up_creates_account_vehicle_and_sign_in(world: Env) -> None:
    token = _start(world)
    (code,) = _codes(world)
    page = world.client.get(f"/signup/verify?token={token}").text
    assert "0912 *** 678" in page and "0912 345 678" not in page
    r = world.client.post("/signup/verify", data={"token": token, "code": code})
    assert r.status_code == 200 and "Chào mừng" in r.text and "0 ₫" in r.text
    with world.session_factory() as s:
        user = s.scalar(select(User).where(User.phone == PHONE))
        assert user is not None and user.role == "driver" and user.display_name == "Lê Thị Mai"
        account = s.get(b.TransportAccount, int(user.account_id or 0))
        assert account is not None and account.phone == PHONE and account.email == FORM["email"]
        plates = s.scalars(select(b.Vehicle.plate_text).where(b.Vehicle.account_id == account.id))
        assert list(plates) == ["51G-246.80"]
    # The code is single-use; the number signs in however it is written.
    r = world.client.post("/signup/verify", data={"token": token, "code": code})
    assert r.headers.get("location", "").startswith("/signup?err=") or r.url.path == "/signup"
    world.client.post("/logout")
    r = world.client.post("/login", data={"username": "84912345678", "password": FORM["password"]})
    assert r.url.path == "/portal"


def test_sign_up_errors_are_next_to_their_fields_and_name_no_one(world: Env) -> None:
    r = world.client.post(
        "/signup",
        data={
            **FORM,
            "full_name": " ",
            "phone": "0123",
            "plate": "29-AA 123.45",
            "password2": "other",
        },
    )
    assert r.status_code == 422
    for field in ("full_name", "phone", "plate", "password2"):
        assert f'data-error-for="{field}"' in r.text, field
    assert "đã được đăng ký ở một tài khoản khác" in r.text
    binh = world.demo.accounts["binh"]  # type: ignore[attr-defined]
    assert "Trần Thị Bình" not in r.text and f"account {binh}" not in r.text
    assert 'value="29-AA 123.45"' in r.text  # what was typed stays
    assert _codes(world) == []  # nothing sent for a form with errors


def test_a_taken_phone_is_refused(world: Env) -> None:
    with world.session_factory() as s:
        s.execute(update(User).where(User.username == "driver").values(phone=PHONE))
        s.commit()
    r = world.client.post("/signup", data=FORM)
    assert r.status_code == 422 and 'data-error-for="phone"' in r.text
    assert "đã có tài khoản" in r.text


def test_wrong_codes_run_out_and_resends_are_rate_limited(world: Env) -> None:
    token = _start(world)
    (code,) = _codes(world)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        r = world.client.post("/signup/verify", data={"token": token, "code": wrong})
        assert r.status_code == 422 and "Mã xác minh không đúng." in r.text
    r = world.client.post("/signup/verify", data={"token": token, "code": wrong})
    assert "đã hết hạn" in r.text  # the fifth wrong try ends this code
    r = world.client.post("/signup/verify", data={"token": token, "code": code})
    assert r.status_code != 200 or "Chào mừng" not in r.text
    with world.session_factory() as s:
        assert s.scalar(select(User).where(User.phone == PHONE)) is None
    # A new code at most once a minute.
    r = world.client.post("/signup", data=FORM)
    assert r.status_code == 422 and "Vui lòng chờ" in r.text
    with world.session_factory() as s:
        earlier = datetime.now(UTC) - timedelta(minutes=2)
        s.execute(update(Verification).values(created_at=earlier))
        s.commit()
    fresh = _start(world)
    assert fresh != token and len(_codes(world)) == 2


def test_an_expired_code_is_refused(world: Env) -> None:
    token = _start(world)
    (code,) = _codes(world)
    with world.session_factory() as s:
        s.execute(update(Verification).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        s.commit()
    r = world.client.post("/signup/verify", data={"token": token, "code": code})
    assert r.status_code == 422 and "đã hết hạn" in r.text


def test_password_reset_answers_alike_for_unknown_numbers(world: Env) -> None:
    with world.session_factory() as s:
        s.execute(update(User).where(User.username == "driver").values(phone=PHONE))
        s.commit()
    unknown = world.client.post("/reset", data={"phone": "0988 000 111"}, follow_redirects=False)
    known = world.client.post("/reset", data={"phone": "0912.345.678"}, follow_redirects=False)
    assert unknown.status_code == known.status_code == 303
    assert _codes(world, "+84988000111") == []  # no code for a number without an account
    (code,) = _codes(world)
    for r in (unknown, known):
        page = world.client.get(r.headers["location"]).text
        assert "Nếu số điện thoại này đã đăng ký" in page and 'name="code"' in page
    token = _token(known.headers["location"])
    r = world.client.post(
        "/reset/verify",
        data={
            "token": token,
            "code": code,
            "password": "n3w-password",
            "password2": "n3w-password",
        },
    )
    assert r.url.path == "/login" and "Đã đổi mật khẩu" in r.text
    r = world.client.post("/login", data={"username": "driver", "password": PASSWORD})
    assert r.status_code == 401
    r = world.client.post("/login", data={"username": "0912345678", "password": "n3w-password"})
    assert r.url.path == "/portal"
