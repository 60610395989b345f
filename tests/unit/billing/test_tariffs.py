"""Tariff rules: exact prices for the Hanoi defaults, and properties that hold for any stay."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.coverage import PassCover
from billing.domain.model import DomainError
from billing.domain.tariffs import (
    Fare,
    Tariff,
    TariffCatalog,
    holiday_surcharge,
    local_zone,
    price_stay,
    tariff_from_dict,
)
from billing.tariffs import TARIFF_DIR as TARIFFS
from billing.tariffs import load_catalog

HN = local_zone("Asia/Ho_Chi_Minh")
CATALOG = load_catalog()
CENTRAL = CATALOG.in_force("hn-central", datetime(2026, 11, 23, 12, tzinfo=HN))
AIRPORT = CATALOG.in_force("airport", datetime(2026, 11, 23, 12, tzinfo=HN))
HOANKIEM = CATALOG.in_force("hn-hoankiem", datetime(2026, 11, 23, 12, tzinfo=HN))
RING3 = CATALOG.in_force("hn-ring3", datetime(2026, 11, 23, 12, tzinfo=HN))
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=HN)  # a Monday, not a holiday


def fee(
    tariff: Tariff, cls: str, entry: datetime, minutes: int = 0, seconds: int = 0, **kw: Any
) -> Fare:
    return price_stay(tariff, cls, entry, entry + timedelta(minutes=minutes, seconds=seconds), **kw)


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (11, 25_000),
        (60, 25_000),
        (61, 50_000),
        (120, 50_000),
        (121, 85_000),
        (240, 120_000),
        (241, 165_000),
        (300, 165_000),
        (301, 210_000),
    ],
)
def test_central_car_is_progressive_by_hour_rounded_up(minutes: int, expected: int) -> None:
    assert fee(CENTRAL, "car_le9", T0, minutes).amount_vnd == expected


def test_price_is_explained_line_by_line() -> None:
    f = fee(CENTRAL, "car_le9", T0, 301)
    assert [(ln.quantity, ln.unit_vnd) for ln in f.lines] == [(2, 25_000), (2, 35_000), (2, 45_000)]
    assert sum(ln.amount_vnd for ln in f.lines) == f.amount_vnd
    assert f.tariff_id == "hn-central" and f.tariff_version == "2026.1"


def test_car_grace_period() -> None:
    assert fee(CENTRAL, "car_le9", T0, 9, 59).amount_vnd == 0
    assert fee(CENTRAL, "car_le9", T0, 10).amount_vnd == 25_000


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(0, 0), (9, 0), (10, 15_000), (60, 15_000), (61, 20_000), (90, 20_000), (91, 25_000)],
)
def test_airport_free_under_ten_minutes_then_hour_then_half_hours(
    minutes: int, expected: int
) -> None:
    assert fee(AIRPORT, "car_le9", T0, minutes).amount_vnd == expected


def test_fixed_price_per_two_hours() -> None:
    assert fee(HOANKIEM, "car_le9", T0, 30).amount_vnd == 60_000
    assert fee(HOANKIEM, "car_le9", T0, 120).amount_vnd == 60_000
    assert fee(HOANKIEM, "car_le9", T0, 121).amount_vnd == 120_000


def test_motorbike_day_and_night_turns() -> None:
    day = datetime(2026, 11, 23, 8, 0, tzinfo=HN)
    assert fee(CENTRAL, "motorbike", day, 120).amount_vnd == 5_000
    night = datetime(2026, 11, 23, 19, 0, tzinfo=HN)
    assert fee(CENTRAL, "motorbike", night, 60).amount_vnd == 8_000


def test_a_turn_touching_day_and_night_is_one_turn_at_the_night_price() -> None:
    f = fee(CENTRAL, "motorbike", datetime(2026, 11, 23, 17, tzinfo=HN), 120)  # 17:00-19:00
    assert f.amount_vnd == 8_000
    assert [(ln.label, ln.quantity, ln.amount_vnd) for ln in f.lines] == [
        ("turn over day and night: night price", 1, 8_000)
    ]
    f = fee(CENTRAL, "motorbike", datetime(2026, 11, 23, 5, 30, tzinfo=HN), 12 * 60)  # 05:30-17:30
    assert f.amount_vnd == 8_000


def test_motorbike_pays_one_turn_per_started_24_hours() -> None:
    entry = datetime(2026, 11, 23, 8, 0, tzinfo=HN)
    assert fee(CENTRAL, "motorbike", entry, 24 * 60).amount_vnd == 8_000  # touches the night
    f = fee(CENTRAL, "motorbike", entry, 26 * 60)  # then 08:00-10:00 the next day: a day turn
    assert f.amount_vnd == 8_000 + 5_000
    assert [ln.label for ln in f.lines] == [
        "day 1: turn over day and night: night price",
        "day 2: day turn",
    ]
    assert fee(CENTRAL, "motorbike", entry, 3 * 24 * 60).amount_vnd == 3 * 8_000


def test_night_turn_spans_midnight() -> None:
    entry = datetime(2026, 11, 23, 22, 0, tzinfo=HN)
    f = fee(CENTRAL, "motorbike", entry, 4 * 60)  # 22:00-02:00: one night
    assert f.amount_vnd == 8_000
    assert [ln.label for ln in f.lines] == ["night turn"]
    f = fee(CENTRAL, "motorbike", entry, 9 * 60)  # 22:00-07:00: one turn, touching the day
    assert f.amount_vnd == 8_000


def test_daily_cap_per_24_hours() -> None:
    f = fee(CENTRAL, "car_le9", T0, 24 * 60)
    assert f.amount_vnd == 500_000  # 50k + 70k + 20 * 45k = 1,020,000, capped
    assert any("daily cap" in ln.label for ln in f.lines)
    assert fee(CENTRAL, "car_le9", T0, 24 * 60 + 30).amount_vnd == 525_000


DAY_PASS = (PassCover("day"),)
DAY_NIGHT_PASS = (PassCover("day_night"),)


def test_monthly_passes() -> None:
    assert fee(CENTRAL, "car_le9", T0, 300, passes=DAY_NIGHT_PASS).amount_vnd == 0
    assert fee(CENTRAL, "car_le9", T0, 300, passes=DAY_PASS).amount_vnd == 0  # 09:00-14:00
    assert fee(CENTRAL, "car_le9", T0, 3 * 24 * 60, passes=DAY_NIGHT_PASS).amount_vnd == 0
    assert CENTRAL.for_class("car_le9").passes == {"day": 3_000_000, "day_night": 4_000_000}


def test_day_pass_charges_only_the_time_outside_the_day() -> None:
    late = fee(CENTRAL, "car_le9", T0, 10 * 60, passes=DAY_PASS)  # 09:00-19:00
    assert fee(CENTRAL, "car_le9", T0, 10 * 60).amount_vnd == 390_000  # without the pass
    assert late.amount_vnd == 25_000  # 18:00-19:00: the first hour
    assert [(ln.label, ln.amount_vnd) for ln in late.lines] == [
        ("monthly pass (day) covers 23/11 09:00-18:00", 0),
        ("outside the pass: 0h-2h: 60 min blocks", 25_000),
    ]
    early = datetime(2026, 11, 23, 4, 30, tzinfo=HN)  # 04:30-06:00 + 18:00-20:00 = 3h30
    f = price_stay(CENTRAL, "car_le9", early, early.replace(hour=20), DAY_PASS)
    assert f.amount_vnd == 50_000 + 2 * 35_000
    assert f.lines[0].label == "monthly pass (day) covers 23/11 06:00-18:00"


def test_a_pass_that_covers_none_of_the_stay_says_so() -> None:
    night = datetime(2026, 11, 23, 19, 0, tzinfo=HN)
    f = fee(CENTRAL, "car_le9", night, 60, passes=DAY_PASS)
    assert f.amount_vnd == 25_000
    assert f.lines[0].label == "monthly pass (day) covers none of this stay"


def test_a_day_pass_for_a_per_turn_class_covers_the_day_turn() -> None:
    t = tariff_from_dict(
        {
            "id": "x",
            "version": "1",
            "valid_from": date(2026, 1, 1),
            "classes": {
                "motorbike": {
                    "per_turn": {"day_vnd": 5000, "night_vnd": 8000},
                    "passes": {"day": 100_000},
                }
            },
        }
    )
    entry = datetime(2026, 11, 23, 17, tzinfo=HN)
    assert price_stay(t, "motorbike", entry, entry.replace(hour=19), DAY_PASS).amount_vnd == 8_000
    assert price_stay(t, "motorbike", T0, T0.replace(hour=17), DAY_PASS).amount_vnd == 0
    assert price_stay(t, "motorbike", T0, T0.replace(hour=17)).amount_vnd == 5_000


def test_public_holiday_surcharge() -> None:
    holiday = datetime(2026, 9, 2, 9, 0, tzinfo=HN)
    f = fee(CENTRAL, "car_le9", holiday, 60)
    assert f.amount_vnd == 30_000  # 25,000 + 20 % rounded up to 1,000
    assert f.lines[-1].label.startswith("public holiday surcharge")
    assert fee(AIRPORT, "car_le9", holiday, 60).amount_vnd == 15_000  # no surcharge there


def test_holiday_surcharge_is_integer_and_rounded_up_to_the_thousand() -> None:
    assert holiday_surcharge(25_000, 20) == 5_000
    assert holiday_surcharge(25_001, 20) == 6_000
    assert holiday_surcharge(5_000, 20) == 1_000
    assert holiday_surcharge(8_000, 20) == 2_000  # 1,600 rounded up
    # beyond float precision the result is still exact
    assert holiday_surcharge(10**20 + 5_000, 20) == 2 * 10**19 + 1_000


def test_holiday_surcharge_stays_under_the_daily_cap() -> None:
    holiday = datetime(2026, 9, 2, 0, 30, tzinfo=HN)
    f = fee(CENTRAL, "car_le9", holiday, 23 * 60)  # 975,000 + 195,000 surcharge, then the cap
    assert f.amount_vnd == 500_000
    assert [ln.label for ln in f.lines][-2:] == ["public holiday surcharge 20%", "daily cap 500000"]
    # two days, only the second a holiday: the surcharge is on that window only
    before = datetime(2026, 8, 31, 9, 0, tzinfo=HN)
    f = fee(CENTRAL, "car_le9", before, 24 * 60 + 60)  # window 2 is 01/09 09:00-10:00
    assert f.amount_vnd == 500_000 + 30_000


def test_motorbike_holiday_turn() -> None:
    f = fee(CENTRAL, "motorbike", datetime(2026, 9, 2, 19, 0, tzinfo=HN), 60)
    assert f.amount_vnd == 8_000 + 2_000


def test_ring_road_3_tariff_loads_and_prices() -> None:
    assert "hn-ring3" in CATALOG.ids()
    assert RING3.version == "2025.1" and RING3.valid_until is None
    assert CATALOG.in_force("hn-ring3", datetime(2025, 3, 1, tzinfo=HN)) == RING3
    car = RING3.for_class("car_le9")
    assert car.blocks[0].minutes == 120 and 30_000 <= car.blocks[0].price_vnd <= 40_000
    assert fee(RING3, "car_le9", T0, 9).amount_vnd == 0  # grace
    assert fee(RING3, "car_le9", T0, 10).amount_vnd == 30_000
    assert fee(RING3, "car_le9", T0, 120).amount_vnd == 30_000
    assert fee(RING3, "car_le9", T0, 121).amount_vnd == 60_000
    f = fee(RING3, "car_le9", T0, 24 * 60)
    assert f.amount_vnd == 300_000 and f.lines[-1].label == "daily cap 300000"
    assert fee(RING3, "car_gt9_truck", T0, 150).amount_vnd == 90_000
    assert fee(RING3, "motorbike", T0, 60).amount_vnd == 5_000
    assert fee(RING3, "car_le9", T0, 10 * 60, passes=DAY_PASS).amount_vnd == 30_000


def test_tariff_version_is_chosen_by_entry_date() -> None:
    old = CATALOG.in_force("hn-central", datetime(2025, 6, 1, tzinfo=HN))
    assert old.version == "2025.1"
    assert (
        CATALOG.in_force("hn-central", datetime(2026, 1, 1, 0, 30, tzinfo=HN)).version == "2026.1"
    )
    with pytest.raises(DomainError):
        CATALOG.in_force("hn-central", datetime(2024, 12, 31, tzinfo=HN))


def test_vat_is_inside_the_price_at_the_rate_of_the_day_the_stay_ends() -> None:
    """The law's rate by date (billing.domain.vat), not a tariff's: 8% in the reduced period
    that runs to 31 December 2026, 10% after it; what the invoice and the ledger use too."""
    fare = fee(CENTRAL, "car_le9", T0, 60)  # 23 November 2026
    assert (fare.amount_vnd, fare.vat_percent, fare.vat_vnd) == (25_000, 8, 1_852)
    late = datetime(2026, 12, 31, 23, 30, tzinfo=HN)  # ends at 00:30 on 1 January 2027
    fare = fee(CENTRAL, "car_le9", late, 60)
    assert (fare.vat_percent, fare.vat_vnd) == (10, fare.amount_vnd - round(fare.amount_vnd / 1.1))


def test_a_tariff_that_names_a_vat_rate_is_refused() -> None:
    raw = tomllib.loads((TARIFFS / "hn-central-2026.toml").read_text(encoding="utf-8"))
    with pytest.raises(DomainError, match="vat_percent"):
        tariff_from_dict({**raw, "vat_percent": 10})


def test_bad_tariff_files_are_rejected_clearly() -> None:
    base = {"id": "x", "version": "1", "valid_from": date(2026, 1, 1)}
    with pytest.raises(DomainError, match="either per_turn or blocks"):
        tariff_from_dict({**base, "classes": {"car_le9": {}}})
    with pytest.raises(DomainError, match="open-ended"):
        tariff_from_dict(
            {
                **base,
                "classes": {"car_le9": {"blocks": [{"minutes": 60, "price_vnd": 1, "count": 1}]}},
            }
        )
    with pytest.raises(DomainError, match="integer"):
        tariff_from_dict(
            {**base, "classes": {"car_le9": {"blocks": [{"minutes": 60, "price_vnd": 2.5}]}}}
        )
    with pytest.raises(DomainError, match="missing"):
        tariff_from_dict({"id": "x"})
    one = tariff_from_dict(
        {**base, "classes": {"car_le9": {"blocks": [{"minutes": 60, "price_vnd": 1}]}}}
    )
    with pytest.raises(DomainError, match="overlap"):
        TariffCatalog([one, one])
    with pytest.raises(DomainError, match="no prices"):
        one.for_class("motorbike")


def test_naive_or_reversed_times_are_errors() -> None:
    with pytest.raises(DomainError):
        price_stay(CENTRAL, "car_le9", datetime(2026, 1, 1), datetime(2026, 1, 1, 1))
    with pytest.raises(DomainError):
        fee(CENTRAL, "car_le9", T0, -5)


# ---------------------------------------------------------------- properties
# Every shipped tariff version and every vehicle class it prices.

VERSIONS = [t for tid in CATALOG.ids() for t in CATALOG.versions(tid)]
SHIPPED = [
    pytest.param(t, cls, id=f"{t.id}@{t.version}-{cls}") for t in VERSIONS for cls in t.classes
]
HOLIDAYS = sorted({d for t in VERSIONS for d in t.holidays})
# Any time in 2025-2026, or one within a day and a half of a public holiday (rare otherwise).
entries = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(HN)
) | st.builds(
    lambda d, minutes: datetime.combine(d, datetime.min.time(), HN) + timedelta(minutes=minutes),
    st.sampled_from(HOLIDAYS),
    st.integers(min_value=-36 * 60, max_value=36 * 60),
)
stays = st.integers(min_value=0, max_value=4 * 24 * 3600)
days = st.dates(min_value=date(2024, 12, 1), max_value=date(2027, 1, 31))
pass_sets = st.lists(
    st.builds(
        lambda kind, a, b: PassCover(kind, min(a, b), max(a, b)),
        st.sampled_from(["day", "day_night"]),
        days,
        days,
    ),
    max_size=3,
) | st.sampled_from([(), DAY_PASS, DAY_NIGHT_PASS])


def test_the_catalog_covers_every_class_of_every_tariff() -> None:
    assert {"hn-central", "hn-hoankiem", "airport", "hn-ring3"} <= set(CATALOG.ids())
    for t in VERSIONS:
        assert set(t.classes) == {"motorbike", "car_le9", "car_gt9_truck"}, t.id


def explained(f: Fare) -> bool:
    return (
        f.amount_vnd == sum(ln.amount_vnd for ln in f.lines)
        and all(isinstance(v, int) for ln in f.lines for v in (ln.quantity, ln.unit_vnd))
        and isinstance(f.amount_vnd, int)
        and 0 <= f.vat_vnd <= f.amount_vnd
    )


@pytest.mark.parametrize(("t", "cls"), SHIPPED)
@settings(max_examples=60, deadline=None)
@given(entry=entries, a=stays, b=stays, held=pass_sets)
def test_fee_never_decreases_as_the_stay_grows(
    t: Tariff, cls: str, entry: datetime, a: int, b: int, held: Sequence[PassCover]
) -> None:
    short, long_ = sorted((a, b))
    f1 = price_stay(t, cls, entry, entry + timedelta(seconds=short), held)
    f2 = price_stay(t, cls, entry, entry + timedelta(seconds=long_), held)
    assert f1.amount_vnd <= f2.amount_vnd
    assert explained(f1) and explained(f2) and f1.amount_vnd >= 0


@pytest.mark.parametrize(("t", "cls"), SHIPPED)
@settings(max_examples=60, deadline=None)
@given(entry=entries, seconds=stays, held=pass_sets)
def test_daily_cap_holds(
    t: Tariff, cls: str, entry: datetime, seconds: int, held: Sequence[PassCover]
) -> None:
    """No 24-hour window from entry costs more than the cap, holiday surcharge included."""
    ct = t.for_class(cls)
    cap = ct.daily_cap_vnd
    if cap is None and ct.per_turn is not None:
        cap = max(ct.per_turn.day_vnd, ct.per_turn.night_vnd)
        cap += holiday_surcharge(cap, t.holiday_surcharge_percent)  # the turn is the cap
    if cap is None:
        return
    exit_ = entry + timedelta(seconds=seconds)
    paid = 0
    day = 0
    while True:
        end = min(entry + timedelta(days=day + 1), exit_)
        total = price_stay(t, cls, entry, end, held).amount_vnd
        assert total - paid <= cap
        paid, day = total, day + 1
        if end == exit_:
            break
    started_days = max(1, -(-seconds // 86400))
    assert paid <= cap * started_days


@pytest.mark.parametrize(("t", "cls"), SHIPPED)
@settings(max_examples=60, deadline=None)
@given(entry=entries, seconds=st.integers(min_value=0, max_value=24 * 3600))
def test_grace_period_is_free_and_then_pays_from_the_first_minute(
    t: Tariff, cls: str, entry: datetime, seconds: int
) -> None:
    ct = t.for_class(cls)
    f = price_stay(t, cls, entry, entry + timedelta(seconds=seconds))
    if seconds < ct.grace_minutes * 60:
        assert f.amount_vnd == 0
    else:
        assert f.amount_vnd > 0


@pytest.mark.parametrize(("t", "cls"), SHIPPED)
@settings(max_examples=60, deadline=None)
@given(entry=entries, seconds=stays, held=pass_sets)
def test_passes_only_ever_lower_the_price(
    t: Tariff, cls: str, entry: datetime, seconds: int, held: Sequence[PassCover]
) -> None:
    exit_ = entry + timedelta(seconds=seconds)
    with_passes = price_stay(t, cls, entry, exit_, held)
    assert with_passes.amount_vnd <= price_stay(t, cls, entry, exit_).amount_vnd
    assert explained(with_passes)
    assert price_stay(t, cls, entry, exit_, DAY_NIGHT_PASS).amount_vnd == 0


@pytest.mark.parametrize(
    "t",
    [
        pytest.param(t, id=f"{t.id}@{t.version}")
        for t in VERSIONS
        if "motorbike" in t.classes and t.classes["motorbike"].per_turn is not None
    ],
)
@settings(max_examples=60, deadline=None)
@given(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 30)),
    st.integers(min_value=18 * 60, max_value=30 * 60 - 1),
    st.integers(min_value=1, max_value=12 * 60),
)
def test_a_stay_inside_one_night_is_one_night_turn(
    t: Tariff, day: date, start_min: int, length: int
) -> None:
    """Any stay between 18:00 and 06:00 next morning, across midnight or not, is one turn."""
    entry = datetime.combine(day, datetime.min.time(), HN) + timedelta(minutes=start_min)
    night_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), HN) + timedelta(
        hours=6
    )
    exit_ = min(entry + timedelta(minutes=length), night_end)
    if (exit_ - entry).total_seconds() < 5 * 60:
        return
    f = price_stay(t, "motorbike", entry, exit_)
    pt = t.for_class("motorbike").per_turn
    assert pt is not None
    assert (f.lines[0].label, f.lines[0].quantity) == ("night turn", 1)
    assert f.lines[0].amount_vnd == pt.night_vnd
    assert len(f.lines) == 1 or f.lines[1].label.startswith("public holiday surcharge")
