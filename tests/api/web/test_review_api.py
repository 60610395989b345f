"""The review queue: an operator corrects a misread plate, charges once, or waives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from billing.adapters import orm as b
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from gateway.orm import AuditEntry
from tests.api.web.conftest import Env
from tests.api.web.helpers import settle


def _misread_exit(env: Env, lot: str = CENTRAL_LOT, plate: str = "30A-123.45") -> int:
    now = datetime.now(UTC)
    settle(env, lot, "entry", plate, now - timedelta(hours=1, minutes=30))
    decision = settle(env, lot, "exit", None, now - timedelta(minutes=1), confidence=0.2)
    assert decision.review and not decision.open
    return decision.passage_id


def _fare_entries(env: Env, account_id: int) -> int:
    with env.session_factory() as s:
        return int(
            s.scalar(
                select(func.count()).where(
                    b.JournalEntry.account_id == account_id, b.JournalEntry.kind == "fare"
                )
            )
            or 0
        )


def _balance(env: Env, account_id: int) -> int:
    with env.session_factory() as s:
        return int(s.get(b.TransportAccount, account_id).balance_vnd)  # type: ignore[union-attr]


def test_correct_plate_then_charge_posts_once(world: Env) -> None:
    pid = _misread_exit(world)
    acct = world.demo.accounts["an"]  # type: ignore[attr-defined]
    h = world.auth("op-a")
    c = world.client
    queue = c.get("/api/v1/review", headers=h).json()
    assert [p["id"] for p in queue["items"]] == [pid]
    r = c.post(f"/api/v1/review/{pid}/correct", headers=h, json={"plate": "30A-123.45"})
    assert r.status_code == 200, r.text
    assert r.json()["passage"]["plate_text"] == "30A-123.45"
    assert [a["action"] for a in r.json()["actions"]] == ["correct_plate"]
    r = c.post(f"/api/v1/review/{pid}/charge", headers=h)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["passage"]["fare_vnd"] == 50_000
    assert result["passage"]["review_status"] == "resolved"
    assert [a["action"] for a in result["actions"]] == ["correct_plate", "charge"]
    assert all(a["actor"] == "op-a" for a in result["actions"])
    # A double click, or a second operator: refused, and the money moved once.
    again = c.post(f"/api/v1/review/{pid}/charge", headers=h)
    assert again.status_code == 409
    assert _balance(world, acct) == 450_000
    assert c.get("/api/v1/review", headers=h).json()["total"] == 0
    resolved = c.get("/api/v1/review?state=resolved", headers=h).json()
    assert [p["id"] for p in resolved["items"]] == [pid]
    with world.session_factory() as s:
        actions = s.scalars(
            select(AuditEntry.action).where(
                AuditEntry.target_kind == "passage", AuditEntry.target_id == str(pid)
            )
        ).all()
    assert actions == ["review.correct_plate", "review.charge"]


def test_charge_without_a_known_plate_is_refused(world: Env) -> None:
    pid = _misread_exit(world)
    r = world.client.post(f"/api/v1/review/{pid}/charge", headers=world.auth("op-a"))
    assert r.status_code == 409


def test_waive_needs_a_reason(world: Env) -> None:
    pid = _misread_exit(world)
    h = world.auth("op-a")
    assert world.client.post(f"/api/v1/review/{pid}/waive", headers=h, json={}).status_code == 422
    r = world.client.post(
        f"/api/v1/review/{pid}/waive", headers=h, json={"reason": "xe cứu thương"}
    )
    assert r.status_code == 200
    assert r.json()["passage"]["review_status"] == "resolved"
    assert r.json()["actions"][-1]["details"]["reason"] == "xe cứu thương"


def test_bad_review_input(world: Env) -> None:
    pid = _misread_exit(world)
    h = world.auth("op-a")
    c = world.client
    r = c.post(f"/api/v1/review/{pid}/correct", headers=h, json={"plate": "hello world"})
    assert r.status_code == 409
    assert c.post(f"/api/v1/review/{pid}/correct", headers=h, json={}).status_code == 422
    assert (
        c.post(f"/api/v1/review/{pid}/charge", headers=h, json={"amount_vnd": -5}).status_code
        == 422
    )
    assert c.post("/api/v1/review/999999/charge", headers=h).status_code == 404
    assert c.get("/api/v1/review/999999", headers=h).status_code == 404
    assert c.get("/api/v1/review?state=weird", headers=h).status_code == 422


def test_review_is_per_lot_and_operator_only(world: Env) -> None:
    pid = _misread_exit(world, AIRPORT_LOT, "30E-246.80")
    c = world.client
    assert c.get("/api/v1/review", headers=world.auth("op-a")).json()["total"] == 0
    assert c.get(f"/api/v1/review/{pid}", headers=world.auth("op-a")).status_code == 403
    r = c.post(f"/api/v1/review/{pid}/charge", headers=world.auth("op-a"))
    assert r.status_code == 403
    assert c.get(f"/api/v1/review/{pid}", headers=world.auth("op-b")).status_code == 200
    for who in ("driver", "driver2"):
        assert c.get("/api/v1/review", headers=world.auth(who)).status_code == 403
        r = c.post(f"/api/v1/review/{pid}/waive", headers=world.auth(who), json={"reason": "x"})
        assert r.status_code == 403
    assert c.get("/api/v1/review").status_code == 401
    assert (
        c.get(f"/api/v1/review?lot_id={AIRPORT_LOT}", headers=world.auth("op-a")).status_code == 403
    )
