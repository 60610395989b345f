"""The plate-matching evidence of a passage (operators, the disputing driver) and the review
queue's one-action confirmation of a match (charged once)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from billing.adapters import orm as b
from billing.domain.decisions import GateDecision, PassageInput
from billing.services import add_vehicle, settle_passage
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from tests.api.web.conftest import PASSWORD, Env
from tests.api.web.helpers import settle


@dataclass(frozen=True)
class Hyp:
    text: str
    key: str
    logprob: float


@dataclass(frozen=True)
class Seen:
    """A reader that saw ``read``: one nat-heavy edit per differing character."""

    read: str

    @property
    def hypotheses(self) -> tuple[Hyp, ...]:
        return (Hyp(self.read, self.read, -0.5),)

    def score(self, key: str) -> float:
        if len(key) != len(self.read):
            return -60.0
        return -6.0 * sum(a != b for a, b in zip(key, self.read, strict=True))

    def background(self) -> float:
        return -24.0


def exit_with(env: Env, seen: Seen, at: datetime) -> GateDecision:
    return exit_with_lot(env, CENTRAL_LOT, seen, at)


def exit_with_lot(env: Env, lot: str, seen: Seen, at: datetime) -> GateDecision:
    _, exit_gate = env.demo.gates[lot]  # type: ignore[attr-defined]
    return settle_passage(
        env.uow(),
        PassageInput(
            f"ev-{uuid.uuid4().hex}",
            lot,
            exit_gate,
            "exit",
            at,
            None,
            0.3,
            True,
            evidence=seen,
        ),
    )


def test_an_auto_matched_exit_explains_itself_to_operator_and_driver(world: Env) -> None:
    now = datetime.now(UTC)
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", now - timedelta(hours=1))
    settle(world, CENTRAL_LOT, "entry", "30E-246.80", now - timedelta(hours=1))
    d = exit_with(world, Seen("30A12346"), now - timedelta(minutes=1))
    assert d.open and d.reason == "exit_paid" and d.plate == "30A-123.45"
    c = world.client
    op = c.get(f"/api/v1/passages/{d.passage_id}/evidence", headers=world.auth("op-a"))
    assert op.status_code == 200, op.text
    ev = op.json()
    assert ev["auto"] is True and ev["matched"] == "30A-123.45"
    assert ev["posterior"] >= ev["threshold"] >= 0.99
    assert ev["hypotheses"] == [{"text": "30A12346", "key": "30A12346", "logprob": -0.5}]
    assert ev["top"][0]["plate"] == "30A-123.45" and ev["top"][0]["session_id"] == d.session_id
    # the charged driver sees why, and no other car's plate
    mine = c.get(f"/api/v1/passages/{d.passage_id}/evidence", headers=world.auth("driver"))
    assert mine.status_code == 200, mine.text
    seen = mine.json()
    assert seen["top"][0]["plate"] == "30A-123.45"
    assert all(m["plate"] in (None, "30A-123.45") for m in seen["top"])
    assert all(m["session_id"] is None for m in seen["top"] if m["plate"] is None)
    # another driver, and an operator of other lots: the passage is not theirs to see
    other = c.get(f"/api/v1/passages/{d.passage_id}/evidence", headers=world.auth("driver2"))
    assert other.status_code in (403, 404)
    none = c.get(f"/api/v1/passages/{d.passage_id}/evidence", headers=world.auth("op-none"))
    assert none.status_code in (403, 404)


def test_a_passage_settled_without_matching_has_no_evidence(world: Env) -> None:
    now = datetime.now(UTC)
    d = settle(world, CENTRAL_LOT, "entry", "30A-123.45", now - timedelta(hours=1))
    r = world.client.get(f"/api/v1/passages/{d.passage_id}/evidence", headers=world.auth("op-a"))
    assert r.status_code == 404


def test_access_is_checked_before_the_id_is_validated(world: Env) -> None:
    r = world.client.get("/api/v1/passages/not-a-number/evidence")
    assert r.status_code == 401


def test_confirming_a_match_charges_once(world: Env) -> None:
    now = datetime.now(UTC)
    add_vehicle(world.uow(), world.demo.accounts["binh"], "30A-128.45", "car_le9")  # type: ignore[attr-defined]
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", now - timedelta(hours=1))
    settle(world, CENTRAL_LOT, "entry", "30A-128.45", now - timedelta(hours=1))
    d = exit_with(world, Seen("30A12045"), now - timedelta(minutes=1))
    assert d.review and not d.open
    c, h = world.client, world.auth("op-a")
    ev = c.get(f"/api/v1/passages/{d.passage_id}/evidence", headers=h).json()
    assert {m["plate"] for m in ev["top"]} == {"30A-123.45", "30A-128.45"}
    assert ev["auto"] is False
    wrong = c.post(
        f"/api/v1/review/{d.passage_id}/confirm", headers=h, json={"plate": "30E-246.80"}
    )
    assert wrong.status_code == 409
    first = c.post(
        f"/api/v1/review/{d.passage_id}/confirm", headers=h, json={"plate": "30A-123.45"}
    )
    assert first.status_code == 200, first.text
    again = c.post(
        f"/api/v1/review/{d.passage_id}/confirm", headers=h, json={"plate": "30A-123.45"}
    )
    assert again.status_code == 200, again.text
    assert first.json()["result"] == again.json()["result"]
    assert first.json()["passage"]["review_status"] == "resolved"
    other = c.post(
        f"/api/v1/review/{d.passage_id}/confirm", headers=h, json={"plate": "30A-128.45"}
    )
    assert other.status_code == 409
    accounts = world.demo.accounts  # type: ignore[attr-defined]
    assert (fare_entries(world, accounts["an"]), fare_entries(world, accounts["binh"])) == (1, 0)


def fare_entries(env: Env, account_id: int) -> int:
    with env.session_factory() as s:
        return int(
            s.scalar(
                select(func.count()).where(
                    b.JournalEntry.account_id == account_id, b.JournalEntry.kind == "fare"
                )
            )
            or 0
        )


def _sign_in(env: Env, username: str) -> None:
    r = env.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303


def test_review_page_shows_the_top_matches_and_its_button_charges_once(world: Env) -> None:
    now = datetime.now(UTC)
    add_vehicle(world.uow(), world.demo.accounts["binh"], "30A-128.45", "car_le9")  # type: ignore[attr-defined]
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", now - timedelta(hours=1))
    settle(world, CENTRAL_LOT, "entry", "30A-128.45", now - timedelta(hours=1))
    d = exit_with(world, Seen("30A12045"), now - timedelta(minutes=1))
    _sign_in(world, "op-a")
    c = world.client
    page = c.get("/dashboard/review").text
    item = page.split(f'data-review-id="{d.passage_id}"')[1].split("</section>")[0]
    assert 'data-testid="match-evidence"' in item
    assert 'data-match="30A12345"' in item and 'data-match="30A12845"' in item
    assert f'action="/dashboard/review/{d.passage_id}/confirm"' in item
    r = c.post(f"/dashboard/review/{d.passage_id}/confirm", data={"plate": "30A-123.45"})
    assert r.status_code == 200 and f'data-resolved-id="{d.passage_id}"' in r.text
    r = c.post(f"/dashboard/review/{d.passage_id}/confirm", data={"plate": "30A-123.45"})
    assert r.status_code == 200  # the same confirmation again: no second charge
    accounts = world.demo.accounts  # type: ignore[attr-defined]
    assert (fare_entries(world, accounts["an"]), fare_entries(world, accounts["binh"])) == (1, 0)
    # the passage page keeps the evidence of the case
    passage = c.get(f"/dashboard/passages/{d.passage_id}")
    assert passage.status_code == 200
    assert 'data-match="30A12345"' in passage.text and "/confirm" not in passage.text


def test_the_driver_sees_why_on_the_trip_and_no_other_plate(world: Env) -> None:
    now = datetime.now(UTC)
    add_vehicle(world.uow(), world.demo.accounts["binh"], "30A-188.45", "car_le9")  # type: ignore[attr-defined]
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", now - timedelta(hours=1))
    settle(world, CENTRAL_LOT, "entry", "30A-188.45", now - timedelta(hours=1))
    d = exit_with(world, Seen("30A12345"), now - timedelta(minutes=1))
    assert d.open and d.plate == "30A-123.45"
    op = world.client.get(f"/api/v1/passages/{d.passage_id}/evidence", headers=world.auth("op-a"))
    assert "30A-188.45" in {m["plate"] for m in op.json()["top"]}  # the runner-up, inside
    _sign_in(world, "driver")
    trips = world.client.get("/portal/trips").text
    assert 'data-testid="trip-evidence"' in trips
    assert "30A12345" in trips  # what the camera read
    assert "30A-188.45" not in trips  # another car's plate never shows


def test_an_operator_of_other_lots_cannot_open_the_passage_page(world: Env) -> None:
    now = datetime.now(UTC)
    settle(world, AIRPORT_LOT, "entry", "30A-123.45", now - timedelta(hours=1))
    d = exit_with_lot(world, AIRPORT_LOT, Seen("30A12346"), now - timedelta(minutes=1))
    _sign_in(world, "op-a")  # central lot only
    r = world.client.get(f"/dashboard/passages/{d.passage_id}", follow_redirects=False)
    assert r.status_code in (403, 404)
    assert "30A12346" not in r.text
