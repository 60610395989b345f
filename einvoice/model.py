"""The invoice as plain data: seller, buyer, lines, totals, and the invoice it corrects.

An :class:`Invoice` holds everything the XML needs and nothing about storage, signing or where
the sale came from; the issuing side makes one from billing's invoice request
(:mod:`einvoice.invoice_request`) once it has taken the next number. This module imports nothing
of billing: the mock tax authority reads invoices through it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from billing.domain.vn import LOCAL_TZ
from einvoice.words import amount_in_words

log = logging.getLogger(__name__)

VAT_INVOICE_NAME = "HÓA ĐƠN GIÁ TRỊ GIA TĂNG"
FORMAT_VERSION = "2.1.0"

BuyerKind = Literal["person", "business"]
InvoiceMode = Literal["cash_register", "authority_coded"]

VEHICLE_CLASS_NAMES = {
    # billing's classes (billing/tariffs), as the tax office and the driver should read them
    "car_le9": "ô tô đến 9 chỗ",
    "car_gt9_truck": "ô tô trên 9 chỗ, xe tải",
    "car": "ô tô",
    "motorbike": "xe máy",
    "motorcycle": "xe máy",
    "truck": "xe tải",
    "bus": "xe khách",
    "van": "xe van",
    "bicycle": "xe đạp",
}


@dataclass(frozen=True)
class SellerParty:
    """The seller as the invoice names it (NBan); its invoicing registration is elsewhere."""

    name: str
    tax_code: str
    address: str
    phone: str | None = None
    email: str | None = None
    bank_account: str | None = None
    bank_name: str | None = None


@dataclass(frozen=True)
class Buyer:
    """A person (name only) or a business (company name, tax code and address)."""

    kind: BuyerKind
    name: str | None
    tax_code: str | None = None
    address: str | None = None
    customer_code: str | None = None  # MKHang: the transport account id
    citizen_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "business" and not (self.name and self.tax_code and self.address):
            raise ValueError("a business buyer needs a name, a tax code and an address")
        if self.kind not in ("person", "business"):
            raise ValueError(f"unknown buyer kind {self.kind!r}")


@dataclass(frozen=True)
class InvoiceLine:
    number: int  # STT
    name: str  # THHDVu
    pre_tax: int  # ThTien, integer VND
    vat_rate: str  # TSuat label: "8%", "10%", "KCT", ...
    vat: int
    unit: str | None = "Lượt"
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = None  # DGia; defaults to pre_tax / quantity
    nature: int = 1  # TChat: 1 goods/service, 2 promotion, 3 discount, 4 note
    code: str | None = None  # MHHDVu

    @property
    def total(self) -> int:
        return self.pre_tax + self.vat

    @property
    def effective_unit_price(self) -> Decimal:
        if self.unit_price is not None:
            return self.unit_price
        return (Decimal(self.pre_tax) / self.quantity).quantize(Decimal("0.0001")).normalize()


@dataclass(frozen=True)
class RateTotal:
    vat_rate: str
    pre_tax: int
    vat: int


@dataclass(frozen=True)
class Totals:
    pre_tax: int
    vat: int
    total: int
    words: str
    per_rate: tuple[RateTotal, ...]

    @classmethod
    def of(cls, lines: Sequence[InvoiceLine]) -> Totals:
        per_rate: dict[str, list[int]] = {}
        for line in lines:
            if line.nature == 4:
                continue
            sign = -1 if line.nature == 3 else 1
            acc = per_rate.setdefault(line.vat_rate, [0, 0])
            acc[0] += sign * line.pre_tax
            acc[1] += sign * line.vat
        pre_tax = sum(v[0] for v in per_rate.values())
        vat = sum(v[1] for v in per_rate.values())
        return cls(
            pre_tax=pre_tax,
            vat=vat,
            total=pre_tax + vat,
            words=amount_in_words(pre_tax + vat),
            per_rate=tuple(RateTotal(r, v[0], v[1]) for r, v in per_rate.items()),
        )


@dataclass(frozen=True)
class OriginalInvoice:
    """The invoice this one corrects (TTHDLQuan): it replaces (1) or adjusts (2) it."""

    relation: Literal[1, 2]
    template: str
    series: str
    number: int
    issued_on: date
    kind: int = 1  # LHDCLQuan: 1 = an e-invoice under Decree 123
    note: str | None = None


@dataclass(frozen=True)
class Invoice:
    template: str  # KHMSHDon, "1" for a VAT invoice
    series: str  # KHHDon, e.g. "C26MPK"
    number: int  # SHDon
    issued_at: datetime  # aware; the invoice date NLap is its local date
    seller: SellerParty
    buyer: Buyer
    lines: tuple[InvoiceLine, ...]
    totals: Totals
    payment_method: str = "Tài khoản trả trước"
    currency: str = "VND"
    exchange_rate: Decimal = Decimal(1)
    provider_tax_code: str | None = None  # MSTTCGP; the seller's own when None
    extras: tuple[tuple[str, str], ...] = ()  # TTKhac: (field, value)
    original: OriginalInvoice | None = None  # set on a replacing or adjusting invoice
    mccqt: str | None = None  # cash-register code made by the seller, or the authority's
    title: str = VAT_INVOICE_NAME
    format_version: str = FORMAT_VERSION
    id_prefix: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.issued_at.tzinfo is None:
            raise ValueError("issued_at must be timezone-aware")
        if not 1 <= self.number <= 99_999_999:
            raise ValueError("SHDon is a positive integer of at most 8 digits")

    @property
    def issued_on(self) -> date:
        return self.issued_at.astimezone(LOCAL_TZ).date()

    @property
    def key(self) -> str:
        """Template + series + number, unique per seller: ``1C26MPK-00000042``."""
        return f"{self.template}{self.series}-{self.number:08d}"

    @property
    def data_id(self) -> str:
        """The Id of DLHDon, referenced by the signatures."""
        return f"{self.id_prefix}DLHDon-{self.key}"


def cash_register_mccqt(template: str, year: int, seller_code: str, sequence: int) -> str:
    """The 23-character code a cash-register seller makes: ``M1-26-41849-00100000006``."""
    if len(template) != 1 or not template.isdigit():
        raise ValueError("template is one digit")
    if len(seller_code) != 5 or not seller_code.isalnum():
        raise ValueError("the authority-assigned seller code has 5 characters")
    if not 0 <= sequence <= 99_999_999_999:
        raise ValueError("the sequence has at most 11 digits")
    code = f"M{template}-{year % 100:02d}-{seller_code.upper()}-{sequence:011d}"
    assert len(code) == 23
    return code
