"""Registered sellers and the numbering ledger, as protocols the pure checks depend on.

The checks in :mod:`checks` take these as arguments so they run against an in-memory registry
(benchmarks, unit tests) or the authority's database (the app) alike.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

_MST = re.compile(r"^[0-9]{10}(?:-[0-9]{3})?$")
_CR_CODE = re.compile(r"^[A-Z0-9]{5}$")


class RegistrationError(ValueError):
    pass


@dataclass(frozen=True)
class RegisteredSeller:
    tax_code: str
    name: str
    cash_register_code: str  # the 5 characters in the seller-made MCCQT
    # "template/series" fnmatch patterns, e.g. "1/C??MPK" ("?" = any one character)
    series_patterns: tuple[str, ...] = ("*",)

    def __post_init__(self) -> None:
        if not _MST.match(self.tax_code):
            raise RegistrationError(f"MST {self.tax_code!r} must be 10 digits or 10-3 digits")
        if not _CR_CODE.match(self.cash_register_code):
            raise RegistrationError(
                f"cash-register code {self.cash_register_code!r} must be 5 characters A-Z0-9"
            )
        if not self.name.strip():
            raise RegistrationError("seller name is empty")
        if not self.series_patterns:
            raise RegistrationError("at least one template/series pattern is required")

    def allows(self, template: str, series: str) -> bool:
        pair = f"{template}/{series}"
        return any(fnmatch.fnmatchcase(pair, pattern) for pattern in self.series_patterns)


def parse_series_patterns(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


class SellerRegistry(Protocol):
    def get_seller(self, tax_code: str) -> RegisteredSeller | None: ...


@dataclass(frozen=True)
class NumberConflict:
    name: str  # DUPLICATE_NUMBER | NUMBER_NOT_ASCENDING
    text: str


class NumberingLedger(Protocol):
    """What the authority already accepted, to check numbers per seller/template/series."""

    def check(
        self, tax_code: str, template: str, series: str, number: int, issue_date: date
    ) -> NumberConflict | None: ...


@dataclass
class InMemoryRegistry:
    sellers: dict[str, RegisteredSeller] = field(default_factory=dict)

    def add(self, seller: RegisteredSeller) -> None:
        self.sellers[seller.tax_code] = seller

    def get_seller(self, tax_code: str) -> RegisteredSeller | None:
        return self.sellers.get(tax_code)


def number_conflict(
    accepted: dict[int, date], number: int, issue_date: date
) -> NumberConflict | None:
    """Numbers must ascend with issue dates: invoices may arrive out of order, never misdated.

    A retried invoice can legitimately arrive after a later-numbered one, so arrival order is
    not the test; a lower number with a later date (or a higher number with an earlier date) is.
    """
    if number in accepted:
        return NumberConflict("DUPLICATE_NUMBER", f"number {number} was already accepted")
    for other, other_date in accepted.items():
        if other < number and other_date > issue_date:
            return NumberConflict(
                "NUMBER_NOT_ASCENDING",
                f"number {number} dated {issue_date} follows number {other} dated {other_date}",
            )
        if other > number and other_date < issue_date:
            return NumberConflict(
                "NUMBER_NOT_ASCENDING",
                f"number {number} dated {issue_date} precedes number {other} dated {other_date}",
            )
    return None


@dataclass
class InMemoryLedger:
    accepted: dict[tuple[str, str, str], dict[int, date]] = field(default_factory=dict)

    def check(
        self, tax_code: str, template: str, series: str, number: int, issue_date: date
    ) -> NumberConflict | None:
        return number_conflict(
            self.accepted.get((tax_code, template, series), {}), number, issue_date
        )

    def record(
        self, tax_code: str, template: str, series: str, number: int, issue_date: date
    ) -> None:
        self.accepted.setdefault((tax_code, template, series), {})[number] = issue_date
