from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.vat import STANDARD, VatRate, rate_on, split_inclusive, vat_is_consistent


@pytest.mark.parametrize(
    ("total", "percent", "pre_tax", "vat"),
    [
        (25_000, 10, 22_727, 2_273),  # 25000 / 1.1 = 22727.27
        (25_000, 8, 23_148, 1_852),  # 25000 / 1.08 = 23148.15
        (11_000, 10, 10_000, 1_000),
        (10_800, 8, 10_000, 800),
        (1, 10, 1, 0),
        (-25_000, 8, -23_148, -1_852),  # downward adjustment mirrors the upward one
        (30_000, 0, 30_000, 0),
    ],
)
def test_split_examples(total: int, percent: int, pre_tax: int, vat: int) -> None:
    split = split_inclusive(total, percent)
    assert (split.pre_tax, split.vat) == (pre_tax, vat)


@given(
    total=st.integers(min_value=-(10**15), max_value=10**15), percent=st.sampled_from([0, 5, 8, 10])
)
def test_split_always_adds_back(total: int, percent: int) -> None:
    split = split_inclusive(total, percent)
    assert split.pre_tax + split.vat == total
    assert split.total == total
    assert vat_is_consistent(split.pre_tax, split.vat, percent)
    if total >= 0:
        assert 0 <= split.vat <= split.pre_tax or split.pre_tax == 0


def test_inconsistent_vat_is_caught() -> None:
    assert not vat_is_consistent(22_727, 2_500, 10)


def test_split_refuses_floats() -> None:
    with pytest.raises(TypeError):
        split_inclusive(25000.0, 10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "percent"),
    [
        (date(2021, 12, 31), 10),
        (date(2022, 2, 1), 8),
        (date(2022, 12, 31), 8),
        (date(2023, 1, 1), 10),
        (date(2023, 6, 30), 10),
        (date(2023, 7, 1), 8),
        (date(2025, 6, 30), 8),
        (date(2026, 3, 2), 8),
        (date(2026, 12, 31), 8),
        (date(2027, 1, 1), 10),
    ],
)
def test_rate_in_force(day: date, percent: int) -> None:
    assert rate_on(day).percent == percent


def test_rate_table_is_data() -> None:
    table = (VatRate(5, date(2030, 1, 1), date(2030, 12, 31)), STANDARD)
    assert rate_on(date(2030, 6, 1), table).label == "5%"
    assert rate_on(date(2031, 1, 1), table).label == "10%"
    with pytest.raises(LookupError):
        rate_on(date(2030, 6, 1), (VatRate(8, date(2022, 1, 1), date(2022, 2, 1)),))
