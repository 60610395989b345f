"""What people type to find an invoice: ``1C26MPK-00000013``, ``C26MPK``, ``13``, an MCCQT.

An invoice is named by template + series + number (``1C26MPK-00000013`` as printed; the tax
office's tables write ``1/C26MPK/13``), or by the tax authority's code. Searches on the
operator console and on the tax office's pages read the same forms, so the parser lives here,
free of any database (the mock tax authority uses it too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# KHHDon: C|K, two year digits, a type letter, two letters chosen by the seller.
SERIES = r"[CK][0-9]{2}[A-Z]{3}"
_FULL = re.compile(rf"^(?:([1-6])\s*/?\s*)?({SERIES})(?:\s*[-/ ]\s*0*([0-9]{{1,8}}))?$")
_NUMBER = re.compile(r"^0*([0-9]{1,8})$")
_MCCQT = re.compile(r"^[A-Z][0-9A-Z]{0,2}-[0-9]{2}-[0-9A-Z]{5}-[0-9]{11}$")


@dataclass(frozen=True)
class InvoiceCode:
    """The parts a search gave; None where it said nothing."""

    template: str | None = None
    series: str | None = None
    number: int | None = None
    mccqt: str | None = None


def parse_invoice_code(text: str | None) -> InvoiceCode | None:
    """The invoice a search text names, or None when it is not an invoice code at all."""
    cleaned = re.sub(r"\s+", " ", (text or "").strip().upper())
    if not cleaned:
        return None
    if _MCCQT.match(cleaned):
        return InvoiceCode(mccqt=cleaned)
    number = _NUMBER.match(cleaned)
    if number:
        value = int(number.group(1))
        return InvoiceCode(number=value) if value > 0 else None
    full = _FULL.match(cleaned)
    if full:
        template, series, digits = full.groups()
        return InvoiceCode(template=template, series=series, number=int(digits) if digits else None)
    return None


def invoice_key(template: str, series: str, number: int) -> str:
    """As printed on the invoice and in lists: ``1C26MPK-00000013``."""
    return f"{template}{series}-{number:08d}"
