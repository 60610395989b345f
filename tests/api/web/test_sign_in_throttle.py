"""Sign-in throttling: 429 with Retry-After once a user name or an address has failed too often,
exponential, bounded memory; an audit line for every failure and for each throttled spell."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from gateway.auth.throttle import Backoff, SignInThrottle
from gateway.orm import AuditEntry
from tests.api.web.conftest import PASSWORD, Env


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def test_waits_double_after_the_free_failures_and_stop_at_the_maximum() -> None:
    b = Backoff(free_failures=3, base_delay_s=1, max_delay_s=60)
    assert [b.delay(n) for n in range(1, 12)] == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_a_user_name_waits_then_a_success_clears_it_but_not_the_address() -> None:
    clock = Clock()
    t = SignInThrottle(Backoff(2, 1.0), Backoff(4, 1.0), clock)
    for _ in range(2):
        t.failed("Admin", "10.0.0.1")
    assert not t.check("admin", "10.0.0.2").blocked
    t.failed("admin", "10.0.0.1")  # the third: one second
    first = t.check("ADMIN ", "10.0.0.9")  # the same user from anywhere
    assert first.blocked and first.report and first.retry_after_header == "1"
    again = t.check("admin", "10.0.0.9")
    assert again.blocked and not again.report  # audited once per spell
    clock.now += 1.01
    assert not t.check("admin", "10.0.0.9").blocked
    t.failed("admin", "10.0.0.1")  # the user's fourth: two seconds; the address's 4th: free
    assert t.check("admin", "10.0.0.2").retry_after_s == pytest.approx(2.0)
    assert not t.check("someone", "10.0.0.1").blocked
    clock.now += 2.01
    t.succeeded("admin")
    t.failed("admin", "10.0.0.3")
    assert not t.check("admin", "10.0.0.3").blocked  # counting starts over after a success
    t.failed("other", "10.0.0.1")  # the address's fifth failure: one second, for every name
    assert t.check("nobody", "10.0.0.1").retry_after_s == pytest.approx(1.0)


def test_memory_is_bounded_and_quiet_records_are_forgotten() -> None:
    clock = Clock()
    t = SignInThrottle(
        Backoff(1, max_keys=100, forget_after_s=60),
        Backoff(1, max_keys=50, forget_after_s=60),
        clock,
    )
    for i in range(5_000):
        t.failed(f"user-{i}", f"10.0.{i // 250}.{i % 250}")
    assert t.sizes() == (100, 50)
    t.failed("victim", "10.9.9.9")
    t.failed("victim", "10.9.9.9")
    assert t.check("victim", "x").blocked
    clock.now += 61
    assert not t.check("victim", "x").blocked


def _throttled_app(env: Env) -> Clock:
    clock = Clock()
    env.client.app.state.sign_in_throttle = SignInThrottle(clock=clock)  # type: ignore[attr-defined]
    return clock


def _audit(env: Env, action: str) -> list[AuditEntry]:
    with env.session_factory() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_thirty_wrong_admin_passwords_get_429_with_retry_after(gw_env: Env) -> None:
    clock = _throttled_app(gw_env)
    codes = []
    for i in range(30):
        r = gw_env.client.post(
            "/api/v1/auth/token", data={"username": "admin", "password": f"guess {i}"}
        )
        codes.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
    assert codes[:5] == [401] * 5 and codes[5] == 401  # the sixth failure starts the waiting
    assert set(codes[6:]) == {429}
    right = {"username": "admin", "password": PASSWORD}
    r = gw_env.client.post("/api/v1/auth/token", data=right)
    assert r.status_code == 429  # not even the right password is checked while waiting
    clock.now += int(r.headers["Retry-After"]) + 0.1
    assert gw_env.client.post("/api/v1/auth/token", data=right).status_code == 200
    failed = _audit(gw_env, "auth.sign_in_failed")
    assert len(failed) == 6 and {a.target_id for a in failed} == {"admin"}
    assert failed[-1].detail["failures"] == 6 and failed[-1].detail["via"] == "api"
    throttled = _audit(gw_env, "auth.sign_in_throttled")
    assert len(throttled) == 1 and throttled[0].detail["address"] == "testclient"


def test_one_address_guessing_many_names_is_throttled(gw_env: Env) -> None:
    _throttled_app(gw_env)
    codes = [
        gw_env.client.post(
            "/api/v1/auth/token", data={"username": f"user{i}", "password": "x"}
        ).status_code
        for i in range(25)
    ]
    assert codes[:20] == [401] * 20 and set(codes[21:]) == {429}


def test_the_sign_in_page_is_throttled_too(gw_env: Env) -> None:
    _throttled_app(gw_env)
    for _ in range(6):
        r = gw_env.client.post("/login", data={"username": "op-a", "password": "nope"})
        assert r.status_code == 401
    r = gw_env.client.post("/login", data={"username": "op-a", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "thử lại sau" in r.text
    assert [a.detail["via"] for a in _audit(gw_env, "auth.sign_in_throttled")] == ["page"]
