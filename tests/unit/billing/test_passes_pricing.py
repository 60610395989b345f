"""Monthly passes cover their own dates only: a stay that outlives a pass pays for the rest,
renewals chain, and the exit at a gate is priced that way (SQLite here, PostgreSQL in
tests/integration/billing/test_passes_pg.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.coverage import PassCover
from billing.domain.decisions import GateDecision
from billing.domain.model import DomainError
from billing.domain.tariffs import Fare, local_zone, price_stay
from billing.services import buy_monthly_pass, top_up
from billing.services.seed import CENTRAL_LOT, DemoData
from billing.tariffs import load_catalog
from tests.unit.billing.conftest import T0, Lane, vehicle_id

HN = local_zone("Asia/Ho_Chi_Minh")
CENTRAL = load_catalog().in_force("hn-central", T0)
ENTRY = datetime(2026, 11, 28, 9, 0, tzinfo=HN)
EXIT = datetime(2026, 12, 5, 10, 0, tzinfo=HN)
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))
DECEMBER = (date(2026, 12, 1), date(2026, 12, 31))
# 28/11 09:00 -> 05/12 10:00 is eight 24-hour windows from entry. After the pass ends at
# 01/12 00:00: window 3 pays 00:00-09:00 (9 h), windows 4-7 the cap, window 8 one hour.
AFTER_NOVEMBER = (50_000 + 70_000 + 5 * 45_000) + 4 * 500_000 + 25_000


def car(
    held: tuple[PassCover, ...] | list[PassCover],
    entry: datetime = ENTRY,
    exit_: datetime = EXIT,
) -> Fare:
    return price_stay(CENTRAL, "car_le9", entry, exit_, held)


def test_a_pass_does_not_cover_the_days_after_it_ends() -> None:
    f = car([PassCover("day_night", *NOVEMBER)])
    assert f.amount_vnd == AFTER_NOVEMBER
    assert f.lines[0].label == "monthly pass (day and night) covers 28/11 09:00-01/12 00:00"
    assert f.lines[0].amount_vnd == 0
    assert f.lines[1].label == "day 3: outside the pass: 0h-2h: 60 min blocks"
    assert f.amount_vnd == sum(ln.amount_vnd for ln in f.lines)


def test_a_pass_does_not_cover_the_days_before_it_starts() -> None:
    f = car([PassCover("day_night", *DECEMBER)])
    # 28/11 09:00 -> 01/12 00:00 pays: windows 1 and 2 the cap, window 3 15 h (over the cap)
    assert f.amount_vnd == 3 * 500_000
    assert "covers 01/12 00:00-05/12 10:00" in f.lines[0].label


def test_renewed_passes_chain() -> None:
    f = car([PassCover("day_night", *DECEMBER), PassCover("day_night", *NOVEMBER)])
    assert f.amount_vnd == 0
    assert [ln.label for ln in f.lines] == [
        "monthly pass (day and night) covers 28/11 09:00-05/12 10:00"
    ]
    days = car([PassCover("day", *NOVEMBER), PassCover("day", *DECEMBER)])
    nights_only = car([PassCover("day", None, None)])
    assert days.amount_vnd == nights_only.amount_vnd > 0


def test_a_day_pass_then_a_day_night_pass() -> None:
    f = car([PassCover("day", *NOVEMBER), PassCover("day_night", *DECEMBER)])
    # windows 1-3 (to 01/12 09:00) pay the nights 28/11, 29/11 (12 h each) and 30/11 18:00-24:00
    assert f.amount_vnd == 2 * 480_000 + (50_000 + 70_000 + 2 * 45_000)


def test_pass_dates_are_local_dates() -> None:
    """A pass valid until 30/11 covers to midnight in Hanoi, 17:00 UTC."""
    late = datetime(2026, 11, 30, 23, 0, tzinfo=HN)
    f = car([PassCover("day_night", *NOVEMBER)], late, late + timedelta(hours=2))
    assert f.amount_vnd == 25_000  # 00:00-01:00 on 01/12


def test_bad_passes_are_rejected_clearly() -> None:
    with pytest.raises(DomainError, match="unknown monthly pass kind"):
        PassCover("weekend")
    with pytest.raises(DomainError, match="before"):
        PassCover("day", date(2026, 12, 1), date(2026, 11, 1))


# ---------------------------------------------------------------- at the gate


def logistics_car(uow: UnitOfWork, demo: DemoData) -> int:
    top_up(uow, demo.accounts["logistics"], 20_000_000, "demo-bank", "passes-test")
    return vehicle_id(uow, "30E24680")


def minutes_from_t0(at: datetime) -> float:
    return (at - T0).total_seconds() / 60


def stay_holding(
    uow: UnitOfWork, demo: DemoData, lane: Lane, *months: tuple[date, date]
) -> GateDecision:
    """The logistics car buys a day_night pass for each month, then parks ENTRY to EXIT."""
    vid = logistics_car(uow, demo)
    for first, _ in months:
        buy_monthly_pass(uow, vid, CENTRAL_LOT, "day_night", first, f"pass-{first:%m}")
    lane.enter("30E-246.80", minutes_from_t0(ENTRY))
    return lane.leave("30E-246.80", minutes_from_t0(EXIT))


def test_exit_after_the_pass_ended_is_charged_for_the_days_after(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    d = stay_holding(uow, demo, lane, NOVEMBER)
    assert (d.open, d.fare_vnd) == (True, AFTER_NOVEMBER)


def test_exit_with_renewed_passes_is_free(uow: UnitOfWork, demo: DemoData, lane: Lane) -> None:
    d = stay_holding(uow, demo, lane, NOVEMBER, DECEMBER)
    assert (d.reason, d.fare_vnd) == ("exit_free", 0)


def test_a_pass_bought_during_the_stay_covers_from_its_first_day(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    d = stay_holding(uow, demo, lane, DECEMBER)
    assert d.fare_vnd == car([PassCover("day_night", *DECEMBER)]).amount_vnd
    assert d.fare_vnd is not None
    assert 0 < d.fare_vnd < car([]).amount_vnd


def test_day_pass_at_the_gate_charges_the_evening(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    vid = logistics_car(uow, demo)
    buy_monthly_pass(uow, vid, CENTRAL_LOT, "day", NOVEMBER[0], "pass-nov")
    lane.enter("30E-246.80", 0)  # 23/11 09:00
    d = lane.leave("30E-246.80", 10 * 60)  # 19:00
    assert d.fare_vnd == 25_000
    with uow:
        lines = uow.session.scalar(
            select(orm.ParkingSession.fare_lines).where(orm.ParkingSession.id == d.session_id)
        )
    assert lines is not None
    assert [ln["amount_vnd"] for ln in lines] == [0, 25_000]
    assert lines[0]["label"] == "monthly pass (day) covers 23/11 09:00-18:00"


def test_a_stored_pass_of_unknown_kind_is_logged_and_ignored(
    uow: UnitOfWork, demo: DemoData, lane: Lane, caplog: pytest.LogCaptureFixture
) -> None:
    vid = logistics_car(uow, demo)
    with uow:
        uow.session.add(
            orm.MonthlyPass(
                vehicle_id=vid,
                lot_id=CENTRAL_LOT,
                kind="weekend",
                valid_from=NOVEMBER[0],
                valid_until=NOVEMBER[1],
                price_vnd=1,
            )
        )
        uow.commit()
    lane.enter("30E-246.80", 0)
    with caplog.at_level("ERROR", logger="billing.services.fares"):
        d = lane.leave("30E-246.80", 60)
    assert (d.open, d.fare_vnd) == (True, 25_000)
    assert "unknown monthly pass kind 'weekend'" in caplog.text


def test_a_pass_from_the_first_runs_to_month_end_else_thirty_days() -> None:
    from datetime import date

    from billing.services.passes import pass_valid_until

    assert pass_valid_until(date(2026, 2, 1)) == date(2026, 2, 28)
    assert pass_valid_until(date(2028, 2, 1)) == date(2028, 2, 29)
    assert pass_valid_until(date(2026, 11, 1)) == date(2026, 11, 30)
    assert pass_valid_until(date(2026, 1, 31)) == date(2026, 3, 2)
