"""The one home of Vietnam's clock and money format (billing.domain.vn) and its users agree."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from billing.domain import decisions
from billing.domain.vn import LOCAL_TZ, group_digits, local_zone, vnd
from einvoice import render
from gateway.web import formatting


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_grouping_reads_back_as_the_amount(amount: int) -> None:
    text = group_digits(amount)
    assert int(text.replace(".", "")) == amount
    groups = text.lstrip("-").split(".")
    assert all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3


def test_every_surface_prints_money_the_same_way() -> None:
    assert vnd(1234567) == "1.234.567 ₫" == formatting.vnd(1234567)
    assert decisions.vnd(-25000) == "-25.000đ"
    assert render.vnd("1234567") == "1.234.567"


def test_local_time_is_plus_seven_all_year() -> None:
    for month in (1, 7):
        at = datetime(2026, month, 1, 17, 0, tzinfo=UTC)
        assert at.astimezone(LOCAL_TZ).hour == 0
    assert local_zone().utcoffset(datetime(2026, 1, 1)) == LOCAL_TZ.utcoffset(datetime(2026, 1, 1))
