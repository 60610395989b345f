"""Passages the edge decided alone: billing honours an open barrier, overdraws an account only
down to the credit the edge counted on, settles each event once, and lists the exposure."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import PassageInput, Reason
from billing.domain.offline import OfflineGrant, exposure_vnd, honouring_policy
from billing.domain.policy import LotPolicy, Outcome
from billing.services import settle_passage
from billing.services.offline import allowlist_content, offline_exposure
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT, DemoData
from tests.unit.billing.conftest import T0, Lane


def grant(credit: int, opened: bool = True, fare: int = 50_000) -> OfflineGrant:
    return OfflineGrant(
        opened=opened,
        reason="credit_covers" if opened else "credit_short",
        decided_at=T0,
        credit_vnd=credit,
        fare_vnd=fare if opened else 0,
        plate_key="30G99999",
        allowlist_version=7,
    )


def offline_exit(
    lane: Lane, plate: str, minutes: float, g: OfflineGrant, event_id: str = "off-1"
) -> tuple[PassageInput, object]:
    p = PassageInput(
        event_id,
        lane.lot,
        lane.exit_gate,
        "exit",
        T0 + timedelta(minutes=minutes),
        plate,
        0.97,
        offline=g,
    )
    return p, settle_passage(lane.uow, p)


def journal_debits(uow: UnitOfWork, event_id: str) -> int:
    with uow:
        n = uow.session.scalar(
            select(func.count())
            .select_from(orm.JournalEntry)
            .where(orm.JournalEntry.event_id == event_id)
        )
    return int(n or 0)


def test_policy_that_honours_an_open_barrier() -> None:
    strict = LotPolicy()
    honoured = honouring_policy(strict, grant(80_000))
    assert honoured.low_balance is Outcome.OVERDRAFT and honoured.overdraft_limit_vnd == 80_000
    assert honoured.unknown_plate_exit is Outcome.OPEN_REVIEW
    assert honoured.account_suspended is Outcome.OPEN_REVIEW
    assert honouring_policy(strict, grant(80_000, opened=False)) == strict
    assert honouring_policy(strict, None) == strict
    generous = LotPolicy(low_balance=Outcome.OVERDRAFT, overdraft_limit_vnd=300_000)
    assert honouring_policy(generous, grant(80_000)).overdraft_limit_vnd == 300_000


def test_exposure_is_what_the_balance_did_not_cover() -> None:
    assert exposure_vnd("exit", Reason.EXIT_PAID.value, 30_000, 10_000) == 0
    assert exposure_vnd("exit", Reason.EXIT_OVERDRAFT.value, 30_000, -20_000) == 20_000
    assert exposure_vnd("exit", Reason.EXIT_OVERDRAFT.value, 30_000, -90_000) == 30_000
    assert exposure_vnd("exit", Reason.LOW_BALANCE.value, 30_000, 5_000) == 30_000
    assert exposure_vnd("entry", Reason.ENTRY_OK.value, None, None) == 0
    assert exposure_vnd("exit", Reason.EXIT_FREE.value, 0, 0) == 0


def test_offline_exit_overdraws_down_to_the_credit_and_is_settled_once(
    uow: UnitOfWork, demo: DemoData
) -> None:
    airport = Lane(uow, demo, AIRPORT_LOT)  # low balance: deny
    airport.enter("30G-999.99", 0)  # Cường has 10,000 now; the list granted him 100,000
    p, first = offline_exit(airport, "30G-999.99", 180, grant(100_000))
    assert first.open and first.reason == Reason.EXIT_OVERDRAFT.value  # type: ignore[attr-defined]
    fare = first.fare_vnd  # type: ignore[attr-defined]
    assert fare and 10_000 < fare < 110_000
    assert first.balance_vnd == 10_000 - fare  # type: ignore[attr-defined]
    again = settle_passage(uow, p)  # the edge resends until it hears back
    assert again.replayed and again.open
    assert journal_debits(uow, "off-1") == 1
    [row] = offline_exposure(uow)
    assert row.lot_id == AIRPORT_LOT and row.day == T0.date()
    assert row.decisions == 1 and row.opened == 1 and row.fares_vnd == fare
    assert row.exposure_vnd == fare - 10_000 and row.to_review == 0


def test_offline_exit_beyond_the_granted_credit_goes_to_review_still_open(
    uow: UnitOfWork, demo: DemoData
) -> None:
    airport = Lane(uow, demo, AIRPORT_LOT)
    airport.enter("30G-999.99", 0)
    # The edge counted on 20,000: the 10,000 balance less the fare would be below -20,000.
    _p, d = offline_exit(airport, "30G-999.99", 180, grant(20_000))
    assert d.fare_vnd > 30_000  # type: ignore[attr-defined]
    assert d.open and d.reason == Reason.LOW_BALANCE.value  # type: ignore[attr-defined]
    assert journal_debits(uow, "off-1") == 0
    [row] = offline_exposure(uow, T0.date(), AIRPORT_LOT)
    assert row.exposure_vnd == d.fare_vnd and row.to_review == 1  # type: ignore[attr-defined]


def test_offline_exit_the_balance_covers_has_no_exposure(uow: UnitOfWork, demo: DemoData) -> None:
    central = Lane(uow, demo, CENTRAL_LOT)
    central.enter("30A-123.45", 0)  # An has 500,000
    _p, d = offline_exit(central, "30A-123.45", 60, grant(200_000))
    assert d.open and d.reason == Reason.EXIT_PAID.value  # type: ignore[attr-defined]
    [row] = offline_exposure(uow)
    assert row.exposure_vnd == 0 and row.fares_vnd == d.fare_vnd  # type: ignore[attr-defined]


def test_a_closed_offline_decision_is_settled_under_the_lots_policy(
    uow: UnitOfWork, demo: DemoData
) -> None:
    airport = Lane(uow, demo, AIRPORT_LOT)
    airport.enter("30G-999.99", 0)
    _p, d = offline_exit(airport, "30G-999.99", 180, grant(10_000, opened=False))
    assert not d.open and d.reason == Reason.LOW_BALANCE.value  # type: ignore[attr-defined]
    [row] = offline_exposure(uow)
    assert row.decisions == 1 and row.opened == 0 and row.exposure_vnd == 0


def test_allowlist_grants_the_smaller_of_balance_and_cap(uow: UnitOfWork, demo: DemoData) -> None:
    content = allowlist_content(uow, CENTRAL_LOT, T0)
    assert content.cap_vnd == 200_000
    assert content.credits["30A12345"] == 200_000  # 500,000 capped
    assert content.credits["30G99999"] == 10_000
    assert content.max_fare_vnd >= 500_000  # a day's stay of the dearest class (cap 700,000)
    small = allowlist_content(uow, CENTRAL_LOT, T0, max_entries=2)
    assert len(small.credits) == 2 and small.left_out == len(content.credits) - 2


def test_an_offline_decision_arriving_after_billings_own_is_recorded_once(
    uow: UnitOfWork, demo: DemoData
) -> None:
    """The original event reached billing first (refused: low balance), then the copy on
    which the edge recorded that it had opened: billing's decision stands, the case is in
    review, and the fare counts as exposure, once however often the copy comes."""
    airport = Lane(uow, demo, AIRPORT_LOT)
    airport.enter("30G-999.99", 0)
    at = T0 + timedelta(minutes=180)
    plain = PassageInput("late-1", AIRPORT_LOT, airport.exit_gate, "exit", at, "30G-999.99", 0.97)
    first = settle_passage(uow, plain)
    assert not first.open and first.reason == Reason.LOW_BALANCE.value
    copy = PassageInput(
        "late-1", AIRPORT_LOT, airport.exit_gate, "exit", at, "30G-999.99", 0.97,
        offline=grant(100_000),
    )  # fmt: skip
    for _ in range(2):
        again = settle_passage(uow, copy)
        assert again.replayed and not again.open
    [row] = offline_exposure(uow)
    assert (row.decisions, row.opened, row.to_review) == (1, 1, 1)
    assert row.exposure_vnd == first.fare_vnd
    assert journal_debits(uow, "late-1") == 0
