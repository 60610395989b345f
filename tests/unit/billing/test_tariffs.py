"""Tariff rules: exact prices for the Hanoi defaults, and properties that hold for any stay."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.model import DomainError
from billing.domain.tariffs import (
    TariffCatalog,
    local_zone,
    price_stay,
    tariff_from_dict,
    vat_included,
)
from billing.tariffs import load_catalog

HN = local_zone("Asia/Ho_Chi_Minh")
CATALOG = load_catalog()
CENTRAL = CATALOG.in_force("hn-central", datetime(2026, 11, 23, 12, tzinfo=HN))
AIRPORT = CATALOG.in_force("airport", datetime(2026, 11, 23, 12, tzinfo=HN))
HOANKIEM = CATALOG.in_force("hn-hoankiem", datetime(2026, 11, 23, 12, tzinfo=HN))
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=HN)  # a Monday, not a holiday


def fee(tariff, cls, entry, minutes=0, seconds=0, **kw):  # type: ignore[no-untyped-def]
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
    # 17:00-19:00 touches the day and the night
    assert (
        fee(CENTRAL, "motorbike", datetime(2026, 11, 23, 17, tzinfo=HN), 120).amount_vnd == 13_000
    )


def test_night_turn_spans_midnight() -> None:
    entry = datetime(2026, 11, 23, 22, 0, tzinfo=HN)
    f = fee(CENTRAL, "motorbike", entry, 4 * 60)  # 22:00-02:00: one night
    assert f.amount_vnd == 8_000
    assert [ln.label for ln in f.lines] == ["night turn"]
    f = fee(CENTRAL, "motorbike", entry, 9 * 60)  # 22:00-07:00: the night, then a day turn
    assert f.amount_vnd == 13_000


def test_daily_cap_per_24_hours() -> None:
    f = fee(CENTRAL, "car_le9", T0, 24 * 60)
    assert f.amount_vnd == 500_000  # 50k + 70k + 20 * 45k = 1,020,000, capped
    assert any("daily cap" in ln.label for ln in f.lines)
    assert fee(CENTRAL, "car_le9", T0, 24 * 60 + 30).amount_vnd == 525_000


def test_monthly_passes() -> None:
    assert fee(CENTRAL, "car_le9", T0, 300, monthly_pass="day_night").amount_vnd == 0
    assert fee(CENTRAL, "car_le9", T0, 300, monthly_pass="day").amount_vnd == 0  # 09:00-14:00
    late = fee(CENTRAL, "car_le9", T0, 10 * 60, monthly_pass="day")  # until 19:00
    assert late.amount_vnd == fee(CENTRAL, "car_le9", T0, 10 * 60).amount_vnd
    assert "does not cover night" in late.lines[0].label
    assert CENTRAL.for_class("car_le9").passes == {"day": 3_000_000, "day_night": 4_000_000}


def test_public_holiday_surcharge() -> None:
    holiday = datetime(2026, 9, 2, 9, 0, tzinfo=HN)
    f = fee(CENTRAL, "car_le9", holiday, 60)
    assert f.amount_vnd == 30_000  # 25,000 + 20 % rounded up to 1,000
    assert f.lines[-1].label.startswith("public holiday surcharge")
    assert fee(AIRPORT, "car_le9", holiday, 60).amount_vnd == 15_000  # no surcharge there


def test_tariff_version_is_chosen_by_entry_date() -> None:
    old = CATALOG.in_force("hn-central", datetime(2025, 6, 1, tzinfo=HN))
    assert old.version == "2025.1"
    assert (
        CATALOG.in_force("hn-central", datetime(2026, 1, 1, 0, 30, tzinfo=HN)).version == "2026.1"
    )
    with pytest.raises(DomainError):
        CATALOG.in_force("hn-central", datetime(2024, 12, 31, tzinfo=HN))


def test_vat_is_inside_the_price() -> None:
    assert vat_included(110_000, 10) == 10_000
    assert vat_included(25_000, 10) == 2_273
    assert fee(CENTRAL, "car_le9", T0, 60).vat_vnd == 2_273


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

TARIFFS = [
    CENTRAL,
    AIRPORT,
    HOANKIEM,
    CATALOG.in_force("hn-central", datetime(2025, 9, 1, tzinfo=HN)),
]
entries = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(HN)
)
stays = st.integers(min_value=0, max_value=4 * 24 * 3600)
classes = st.sampled_from(["motorbike", "car_le9", "car_gt9_truck"])
tariffs = st.sampled_from(TARIFFS)
passes = st.sampled_from([None, "day", "day_night"])


@settings(max_examples=300, deadline=None)
@given(tariffs, classes, entries, stays, stays, passes)
def test_fee_never_decreases_as_the_stay_grows(t, cls, entry, a, b, mp) -> None:  # type: ignore[no-untyped-def]
    if cls not in t.classes:
        return
    short, long_ = sorted((a, b))
    f1 = price_stay(t, cls, entry, entry + timedelta(seconds=short), mp)
    f2 = price_stay(t, cls, entry, entry + timedelta(seconds=long_), mp)
    assert f1.amount_vnd <= f2.amount_vnd
    for f in (f1, f2):
        assert f.amount_vnd == sum(ln.amount_vnd for ln in f.lines) >= 0
        assert isinstance(f.amount_vnd, int) and 0 <= f.vat_vnd <= f.amount_vnd


@settings(max_examples=300, deadline=None)
@given(tariffs, classes, entries, stays)
def test_daily_cap_holds(t, cls, entry, seconds) -> None:  # type: ignore[no-untyped-def]
    ct = t.classes.get(cls)
    if ct is None or ct.daily_cap_vnd is None:
        return
    f = price_stay(t, cls, entry, entry + timedelta(seconds=seconds))
    started_days = max(1, -(-seconds // 86400))
    surcharge = 1 + t.holiday_surcharge_percent / 100
    assert f.amount_vnd <= ct.daily_cap_vnd * started_days * surcharge + 1000


@settings(max_examples=200, deadline=None)
@given(tariffs, classes, entries, st.integers(min_value=0, max_value=24 * 3600))
def test_grace_period_is_free_and_then_pays_from_the_first_minute(t, cls, entry, seconds) -> None:  # type: ignore[no-untyped-def]
    ct = t.classes.get(cls)
    if ct is None:
        return
    f = price_stay(t, cls, entry, entry + timedelta(seconds=seconds))
    if seconds < ct.grace_minutes * 60:
        assert f.amount_vnd == 0
    else:
        assert f.amount_vnd > 0


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 30)),
    st.integers(min_value=18 * 60, max_value=30 * 60 - 1),
    st.integers(min_value=1, max_value=12 * 60),
)
def test_a_stay_inside_one_night_is_one_night_turn(day, start_min, length) -> None:  # type: ignore[no-untyped-def]
    """Any stay between 18:00 and 06:00 next morning, across midnight or not, is one turn."""
    entry = datetime.combine(day, datetime.min.time(), HN) + timedelta(minutes=start_min)
    night_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), HN) + timedelta(
        hours=6
    )
    exit_ = min(entry + timedelta(minutes=length), night_end)
    if (exit_ - entry).total_seconds() < 5 * 60:
        return
    t = HOANKIEM  # no holiday surcharge, no cap
    assert price_stay(t, "motorbike", entry, exit_).amount_vnd == 8_000
