"""Database-backed registry and numbering ledger, and seller registration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from simulator.tax_authority.db import InvoiceRow, SellerRow
from simulator.tax_authority.registry import (
    NumberConflict,
    RegisteredSeller,
    RegistrationError,
)


def _to_seller(row: SellerRow) -> RegisteredSeller:
    return RegisteredSeller(
        tax_code=row.tax_code,
        name=row.name,
        cash_register_code=row.cash_register_code,
        series_patterns=tuple(row.series_patterns),
    )


@dataclass
class DbRegistry:
    session: Session

    def get_seller(self, tax_code: str) -> RegisteredSeller | None:
        row = self.session.get(SellerRow, tax_code)
        return _to_seller(row) if row is not None else None


@dataclass
class DbLedger:
    session: Session

    def check(
        self, tax_code: str, template: str, series: str, number: int, issue_date: date
    ) -> NumberConflict | None:
        same = (
            (InvoiceRow.seller_tax_code == tax_code)
            & (InvoiceRow.template == template)
            & (InvoiceRow.series == series)
        )
        if self.session.scalar(select(exists().where(same & (InvoiceRow.number == number)))):
            return NumberConflict("DUPLICATE_NUMBER", f"number {number} was already accepted")
        earlier_later = self.session.scalar(
            select(InvoiceRow.number)
            .where(same & (InvoiceRow.number < number) & (InvoiceRow.issue_date > issue_date))
            .limit(1)
        )
        if earlier_later is not None:
            return NumberConflict(
                "NUMBER_NOT_ASCENDING",
                f"number {number} dated {issue_date} follows number {earlier_later} "
                "which has a later date",
            )
        later_earlier = self.session.scalar(
            select(InvoiceRow.number)
            .where(same & (InvoiceRow.number > number) & (InvoiceRow.issue_date < issue_date))
            .limit(1)
        )
        if later_earlier is not None:
            return NumberConflict(
                "NUMBER_NOT_ASCENDING",
                f"number {number} dated {issue_date} precedes number {later_earlier} "
                "which has an earlier date",
            )
        return None


def register_seller(session: Session, seller: RegisteredSeller) -> RegisteredSeller:
    """Create or update a seller. The cash-register code stays unique across sellers."""
    holder = session.scalar(
        select(SellerRow).where(SellerRow.cash_register_code == seller.cash_register_code)
    )
    if holder is not None and holder.tax_code != seller.tax_code:
        raise RegistrationError(
            f"cash-register code {seller.cash_register_code} belongs to {holder.tax_code}"
        )
    row = session.get(SellerRow, seller.tax_code)
    if row is None:
        row = SellerRow(tax_code=seller.tax_code, next_code_seq=1)
        session.add(row)
    row.name = seller.name
    row.cash_register_code = seller.cash_register_code
    row.series_patterns = list(seller.series_patterns)
    session.flush()
    return _to_seller(row)


def list_sellers(session: Session) -> list[RegisteredSeller]:
    return [_to_seller(r) for r in session.scalars(select(SellerRow).order_by(SellerRow.name))]


def next_authority_code(session: Session, tax_code: str, template: str, series: str) -> str:
    """A 23-character code the authority assigns: T<template>-<yy>-<seller code>-<11 digits>.

    Same shape as a seller-made cash-register code, with ``T`` instead of ``M`` so the two can
    never collide.
    """
    row = session.get(SellerRow, tax_code)
    if row is None:
        raise RegistrationError(f"seller {tax_code} is not registered")
    seq = row.next_code_seq
    row.next_code_seq = seq + 1
    session.flush()
    return f"T{template}-{series[1:3]}-{row.cash_register_code}-{seq:011d}"
