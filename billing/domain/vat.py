"""VAT as data: which rate applies on a date, and the split of a VAT-inclusive amount.

The one source of the rate: billing prices and books every fare and pass with the rate in force
on its (local) date and names it in the invoice request; einvoice writes that rate on the
invoice; the tariffs page, ``parking tariff quote`` and the reports show it. The rate is the
law's, not a tariff's: the standard rate, and the reduced rate while a decree keeps it, each with
its validity dates below (a new decree is a new line).

Parking fares are quoted VAT-inclusive. The split rounds the pre-tax amount half away from zero
and gives the VAT as the remainder, so pre-tax + VAT always equals the amount that was debited;
the VAT then differs from ``round(pre_tax * rate)`` by at most one dong, which
:func:`vat_is_consistent` accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class VatRate:
    """A rate in force from ``valid_from`` to ``valid_to`` (both inclusive; None = open)."""

    percent: int
    valid_from: date | None = None
    valid_to: date | None = None
    source: str = ""

    @property
    def label(self) -> str:
        """The TSuat value of the invoice XML, e.g. ``"8%"``."""
        return f"{self.percent}%"

    def applies_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


STANDARD = VatRate(10, source="Law on VAT: standard rate")

# Periods in which goods and services normally taxed at 10% (parking included: it is not among
# the excluded sectors) were taxed at 8%. Listed most specific first; STANDARD is the fallback.
REDUCED_PERIODS: tuple[VatRate, ...] = (
    VatRate(8, date(2022, 2, 1), date(2022, 12, 31), "Decree 15/2022/ND-CP"),
    VatRate(8, date(2023, 7, 1), date(2023, 12, 31), "Decree 44/2023/ND-CP"),
    VatRate(8, date(2024, 1, 1), date(2024, 6, 30), "Decree 94/2023/ND-CP"),
    VatRate(8, date(2024, 7, 1), date(2024, 12, 31), "Decree 72/2024/ND-CP"),
    VatRate(8, date(2025, 1, 1), date(2025, 6, 30), "Decree 180/2024/ND-CP"),
    VatRate(8, date(2025, 7, 1), date(2026, 12, 31), "Decree 174/2025/ND-CP"),
)

VAT_RATES: tuple[VatRate, ...] = (*REDUCED_PERIODS, STANDARD)


def rate_on(day: date, table: Sequence[VatRate] = VAT_RATES) -> VatRate:
    """The first rate of ``table`` in force on ``day`` (the seller's local date)."""
    for rate in table:
        if rate.applies_on(day):
            return rate
    raise LookupError(f"no VAT rate in force on {day.isoformat()}")


@dataclass(frozen=True)
class VatSplit:
    pre_tax: int
    vat: int

    @property
    def total(self) -> int:
        return self.pre_tax + self.vat


def split_inclusive(total_vnd: int, percent: int) -> VatSplit:
    """Split a VAT-inclusive amount (integer VND, may be negative for a downward adjustment)."""
    if isinstance(total_vnd, bool) or not isinstance(total_vnd, int):
        raise TypeError("amounts are integer VND")
    if percent < 0:
        raise ValueError("negative VAT rate")
    pre_tax = int(
        (Decimal(total_vnd) * 100 / Decimal(100 + percent)).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
    )
    return VatSplit(pre_tax=pre_tax, vat=total_vnd - pre_tax)


def vat_is_consistent(pre_tax: int, vat: int, percent: int) -> bool:
    """Whether ``vat`` fits ``pre_tax`` at ``percent``, allowing one dong of rounding."""
    return abs(Decimal(vat) - Decimal(pre_tax) * percent / 100) <= 1
