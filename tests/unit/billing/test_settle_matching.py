"""Settlement with the reader's evidence: exits matched against the cars inside, entries
against the registered vehicles, unsure entries joined up at the exit, evidence kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import GateDecision, PassageInput
from billing.domain.model import DomainError
from billing.domain.policy import Outcome
from billing.services import (
    add_vehicle,
    confirm_match,
    get_account,
    match_candidates,
    set_lot_policy,
    settle_passage,
)
from billing.services.seed import CENTRAL_LOT, DemoData

from .conftest import T0
from .test_matching import levenshtein

AN = "30A12345"  # account "an", a car
LOGISTICS_TWIN = "30A12845"  # one character from AN (5/8 is not it: 3 -> 8)


@dataclass(frozen=True)
class Hyp:
    text: str
    key: str
    logprob: float


@dataclass(frozen=True)
class Seen:
    """A reader that saw ``read``: each edit away costs 6 nats; any plate scores -24."""

    read: str
    alternatives: tuple[str, ...] = ()
    per_edit: float = 6.0

    @property
    def hypotheses(self) -> tuple[Hyp, ...]:
        keys = (self.read, *self.alternatives)
        return tuple(Hyp(k, k, -1.0 - i) for i, k in enumerate(keys))

    def score(self, key: str) -> float:
        return -self.per_edit * levenshtein(key, self.read)

    def background(self) -> float:
        return -24.0


class Gates:
    def __init__(self, uow: UnitOfWork, demo: DemoData) -> None:
        self.uow = uow
        self.entry_gate, self.exit_gate = demo.gates[CENTRAL_LOT]
        self._ids = count(1)

    def pass_(
        self,
        direction: str,
        text: str | None,
        minutes: float,
        evidence: Seen | None,
        confidence: float = 0.4,
        event_id: str | None = None,
    ) -> GateDecision:
        gate = self.entry_gate if direction == "entry" else self.exit_gate
        return settle_passage(
            self.uow,
            PassageInput(
                event_id=event_id or f"m-{next(self._ids)}",
                lot_id=CENTRAL_LOT,
                gate_id=gate,
                direction=direction,
                captured_at=T0 + timedelta(minutes=minutes),
                plate_text=text,
                plate_confidence=confidence,
                needs_review=confidence < 0.8,
                evidence=evidence,
            ),
        )


@pytest.fixture()
def gates(uow: UnitOfWork, demo: DemoData) -> Gates:
    return Gates(uow, demo)


def evidence_of(uow: UnitOfWork, passage_id: int) -> dict[str, object]:
    with uow:
        stored = uow.session.scalar(
            select(orm.Passage.match_evidence).where(orm.Passage.id == passage_id)
        )
    assert stored is not None
    return dict(stored)


def balance(uow: UnitOfWork, demo: DemoData, who: str) -> int:
    acct = get_account(uow, demo.accounts[who])
    assert acct is not None
    return acct.balance_vnd


def test_an_unsure_exit_read_settles_on_the_only_car_inside_that_fits(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    gates.pass_("entry", "30A-123.45", 0, None, confidence=0.97)
    gates.pass_("entry", "30E-246.80", 1, None, confidence=0.97)
    before = balance(uow, demo, "an")
    exit_ = gates.pass_("exit", "30A-123.46", 61, Seen("30A12346", ("30A12348",)))
    assert (exit_.open, exit_.reason, exit_.plate) == (True, "exit_paid", "30A-123.45")
    assert exit_.review is False
    assert balance(uow, demo, "an") == before - (exit_.fare_vnd or 0) < before
    kept = evidence_of(uow, exit_.passage_id)
    assert kept["best"] == AN and kept["auto"] is True
    assert float(kept["posterior"]) >= 0.999  # type: ignore[arg-type]
    assert kept["session_id"] == exit_.session_id
    assert kept["read"] == "30A-123.46"
    assert kept["hypotheses"] == [["30A12346", "30A12346", -1.0], ["30A12348", "30A12348", -2.0]]


def test_a_near_twin_inside_sends_the_exit_to_review_with_both_ranked(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    add_vehicle(uow, demo.accounts["logistics"], "30A-128.45", "car_le9")
    gates.pass_("entry", "30A-123.45", 0, None, confidence=0.97)
    gates.pass_("entry", "30A-128.45", 1, None, confidence=0.97)
    before = balance(uow, demo, "an"), balance(uow, demo, "logistics")
    exit_ = gates.pass_("exit", "30A-12?.45", 61, Seen("30A12045"))  # 0: as far from 3 as 8
    assert (exit_.open, exit_.reason, exit_.review) == (False, "plate_unreadable", True)
    assert (balance(uow, demo, "an"), balance(uow, demo, "logistics")) == before
    kept = evidence_of(uow, exit_.passage_id)
    assert kept["auto"] is False
    assert {kept["best"], kept["runner_up"]} == {AN, LOGISTICS_TWIN}
    top = kept["top"]
    assert isinstance(top, list) and len(top) == 2
    assert top[0][1] == pytest.approx(0.5, abs=0.01)


def test_a_confident_read_the_cars_inside_contradict_goes_to_review(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    add_vehicle(uow, demo.accounts["logistics"], "30A-128.45", "car_le9")
    gates.pass_("entry", "30A-123.45", 0, None, confidence=0.97)
    gates.pass_("entry", "30A-128.45", 1, None, confidence=0.97)
    # read sure of 30A-123.45, yet the evidence points (not surely) at the twin
    exit_ = gates.pass_("exit", "30A-123.45", 61, Seen("30A12855"), confidence=0.97)
    assert (exit_.open, exit_.reason, exit_.review) == (False, "plate_unreadable", True)


def test_a_confident_read_is_never_overruled_by_a_sure_match_on_another_plate(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    """The demo's case: a car's entry was misread (a digit dropped), its exit is read right and
    surely. The only car inside near the read is the misread entry; matching alone would charge
    that session's plate. A person links the two instead."""
    gates.pass_("entry", "30A-123.45", 0, None, confidence=0.97)
    before = balance(uow, demo, "an")
    exit_ = gates.pass_("exit", "30A-123.46", 61, Seen("30A12346"), confidence=0.97)
    assert (exit_.open, exit_.reason, exit_.review) == (False, "plate_unreadable", True)
    assert balance(uow, demo, "an") == before
    kept = evidence_of(uow, exit_.passage_id)
    assert kept["best"] == AN and kept["auto"] is True  # the match was sure, and still not used


def test_a_confident_read_keeps_the_old_path_when_nothing_disagrees(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    gates.pass_("entry", "30A-123.45", 0, None, confidence=0.97)
    exit_ = gates.pass_("exit", "30A-123.45", 61, Seen(AN), confidence=0.97)
    assert (exit_.open, exit_.reason) == (True, "exit_paid")


def test_nothing_inside_near_the_read_is_not_guessed(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    gates.pass_("entry", "30A-123.45", 0, None, confidence=0.97)
    exit_ = gates.pass_("exit", None, 61, Seen("51G99999"))
    assert (exit_.open, exit_.reason, exit_.review) == (False, "plate_unreadable", True)
    kept = evidence_of(uow, exit_.passage_id)
    # no candidate scored: nobody explains the read better than any plate would
    assert (kept["best"], kept["auto"], kept["scored"]) == (None, False, 0)


def test_an_unsure_entry_read_is_matched_to_the_registered_vehicle(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    entry = gates.pass_("entry", "30A-123.46", 0, Seen("30A12346", (AN,)))
    assert (entry.open, entry.reason, entry.plate) == (True, "entry_ok", "30A-123.45")
    exit_ = gates.pass_("exit", "30A-123.45", 61, None, confidence=0.97)
    assert exit_.reason == "exit_paid" and exit_.session_id == entry.session_id


def test_an_unsure_entry_opens_and_the_exit_joins_the_session_up(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    add_vehicle(uow, demo.accounts["logistics"], "30A-128.45", "car_le9")
    before = balance(uow, demo, "an")
    # the read fits two registered vehicles as well: let in, hypotheses kept
    entry = gates.pass_("entry", None, 0, Seen("30A12045", (AN, LOGISTICS_TWIN)))
    assert (entry.open, entry.reason, entry.review) == (True, "entry_ok", False)
    assert entry.fare_vnd is None and balance(uow, demo, "an") == before  # no money at entry
    with uow:
        session = uow.session.get(orm.ParkingSession, entry.session_id)
        assert session is not None
        assert session.plate_key.startswith("~")
        assert session.entry_hypotheses == ["30A12045", AN, LOGISTICS_TWIN]
    # a clear exit read: the car is the hypothesis 30A-123.45 of that entry
    exit_ = gates.pass_("exit", "30A-123.45", 121, Seen(AN, per_edit=12.0), confidence=0.5)
    assert (exit_.open, exit_.reason, exit_.session_id) == (True, "exit_paid", entry.session_id)
    assert balance(uow, demo, "an") == before - (exit_.fare_vnd or 0) < before
    with uow:
        session = uow.session.get(orm.ParkingSession, entry.session_id)
        assert session is not None
        assert (session.plate_key, session.status, session.payment) == (AN, "closed", "charged")
        assert session.account_id == demo.accounts["an"]


def test_a_confident_entry_misread_of_a_registered_car_lets_it_in_and_the_exit_joins_up(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    """The demo's case: the entry camera read "30A-1234" surely (a digit dropped), no such
    plate is registered, and registered 30A-123.45 is one character away. The read is not
    overruled (no charge on a guess), but the car comes in as an unsure entry that keeps the
    likely plate, and its exit, read right, joins the stay up and pays."""
    set_lot_policy(uow, CENTRAL_LOT, unknown_plate_entry=Outcome.DENY)
    before = balance(uow, demo, "an")
    entry = gates.pass_("entry", "30A-1234", 0, Seen("30A1234"), confidence=0.97)
    assert (entry.open, entry.reason) == (True, "entry_ok")
    with uow:
        session = uow.session.get(orm.ParkingSession, entry.session_id)
        assert session is not None and session.plate_key.startswith("~")
        assert AN in (session.entry_hypotheses or [])
    exit_ = gates.pass_("exit", "30A-123.45", 61, Seen(AN, per_edit=12.0), confidence=0.97)
    assert (exit_.open, exit_.reason, exit_.session_id) == (True, "exit_paid", entry.session_id)
    assert balance(uow, demo, "an") == before - (exit_.fare_vnd or 0) < before


def test_an_unknown_car_far_from_every_registered_plate_keeps_the_unknown_policy(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, unknown_plate_entry=Outcome.DENY)
    entry = gates.pass_("entry", "30A-987.65", 0, Seen("30A98765"), confidence=0.97)
    assert entry.open is False and entry.reason != "plate_unreadable"


def test_the_unsure_entry_policy_can_deny(uow: UnitOfWork, demo: DemoData, gates: Gates) -> None:
    set_lot_policy(uow, CENTRAL_LOT, unsure_entry=Outcome.DENY)
    entry = gates.pass_("entry", None, 0, Seen("30A98765"))  # no registered plate comes near
    assert (entry.open, entry.reason, entry.review) == (False, "plate_unreadable", True)


def test_a_repeated_exit_event_charges_once(uow: UnitOfWork, demo: DemoData, gates: Gates) -> None:
    gates.pass_("entry", "30A-123.45", 0, None, confidence=0.97)
    before = balance(uow, demo, "an")
    first = gates.pass_("exit", None, 61, Seen("30A12346"), event_id="x-1")
    again = gates.pass_("exit", None, 61, Seen("30A12346"), event_id="x-1")
    assert first.reason == "exit_paid" and again.replayed
    assert balance(uow, demo, "an") == before - (first.fare_vnd or 0)


def test_review_shows_the_top_matches_and_one_confirmation_charges_once(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    add_vehicle(uow, demo.accounts["logistics"], "30A-128.45", "car_le9")
    gates.pass_("entry", "30A-123.45", 0, None, confidence=0.97)
    gates.pass_("entry", "30A-128.45", 1, None, confidence=0.97)
    gates.pass_("entry", "30E-246.80", 2, None, confidence=0.97)
    before = balance(uow, demo, "an"), balance(uow, demo, "logistics")
    exit_ = gates.pass_("exit", None, 61, Seen("30A12045"))
    assert exit_.review and not exit_.open
    top = match_candidates(uow, exit_.passage_id)
    assert [c.key for c in top] == sorted([AN, LOGISTICS_TWIN])  # a tie: ranked by plate
    assert all(c.session_id is not None for c in top)
    assert {c.plate for c in top} == {"30A-123.45", "30A-128.45"}
    with pytest.raises(DomainError) as refused:
        confirm_match(uow, exit_.passage_id, "30E-246.80", "op")  # inside, but not a match
    assert refused.value.code == "not_a_match"

    entry_id = confirm_match(uow, exit_.passage_id, "30A-123.45", "op")
    again = confirm_match(uow, exit_.passage_id, "30A12345", "op")  # the form sent twice
    assert again == entry_id
    fare = before[0] - balance(uow, demo, "an")
    assert fare > 0 and balance(uow, demo, "logistics") == before[1]
    with uow:
        passage = uow.session.get(orm.Passage, exit_.passage_id)
        assert passage is not None
        assert (passage.review_status, passage.plate_key, passage.fare_vnd) == (
            "resolved",
            AN,
            fare,
        )
        session = uow.session.get(orm.ParkingSession, passage.session_id)
        assert session is not None and session.payment == "charged"
        assert session.journal_entry_id == entry_id
        debits = uow.session.scalars(
            select(orm.JournalEntry.id).where(orm.JournalEntry.event_id == "m-4")
        ).all()
        assert len(debits) == 1
    with pytest.raises(DomainError) as other:
        confirm_match(uow, exit_.passage_id, "30A-128.45", "op")  # settled: no second car
    assert other.value.code == "not_pending"
    assert balance(uow, demo, "logistics") == before[1]


def test_confirming_a_match_with_an_unsure_entry_joins_its_session(
    uow: UnitOfWork, demo: DemoData, gates: Gates
) -> None:
    add_vehicle(uow, demo.accounts["logistics"], "30A-128.45", "car_le9")
    entry = gates.pass_("entry", None, 0, Seen("30A12045", (AN, LOGISTICS_TWIN)))
    exit_ = gates.pass_("exit", None, 61, Seen("30A12045"))  # as unsure as the entry
    assert exit_.review
    top = match_candidates(uow, exit_.passage_id)
    assert {c.session_id for c in top} == {entry.session_id}
    before = balance(uow, demo, "an")
    confirm_match(uow, exit_.passage_id, AN, "op")
    assert balance(uow, demo, "an") < before
    with uow:
        session = uow.session.get(orm.ParkingSession, entry.session_id)
        assert session is not None
        assert (session.plate_key, session.payment) == (AN, "charged")
        assert session.account_id == demo.accounts["an"]
