"""The invoice as plain data: seller, buyer, lines, totals, and the invoice it corrects.

An :class:`Invoice` holds everything the XML needs and nothing about storage or signing; the
issuing side builds one with :func:`invoice_from_request` from an ``invoice_request`` outbox
payload (docs/contracts.md) once it has taken the next number.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from einvoice.vat import DEFAULT_TABLE, VatRate, rate_on, split_inclusive
from einvoice.words import amount_in_words

log = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
VAT_INVOICE_NAME = "HÓA ĐƠN GIÁ TRỊ GIA TĂNG"
FORMAT_VERSION = "2.1.0"
ANONYMOUS_BUYER = "Người mua không lấy hóa đơn"  # the usual text when a person gives no name

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


def _duration_text(entry: datetime, exit_: datetime) -> str:
    minutes = max(0, round((exit_ - entry).total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} giờ {minutes} phút"
    if hours:
        return f"{hours} giờ"
    return f"{minutes} phút"


def _clock(moment: datetime) -> str:
    """``HH:MM dd/mm/yyyy`` in local time (f-string: strftime is slow on the hot path)."""
    t = moment.astimezone(LOCAL_TZ)
    return f"{t.hour:02d}:{t.minute:02d} {t.day:02d}/{t.month:02d}/{t.year}"


def parking_line_name(
    vehicle_class: str, plate: str, lot_name: str, entry: datetime, exit_: datetime
) -> str:
    """E.g. "Dịch vụ trông giữ ô tô 2 giờ 15 phút - 30A-123.45 - Bãi xe Hoàn Kiếm (...)"."""
    vehicle = VEHICLE_CLASS_NAMES.get(vehicle_class.lower(), vehicle_class)
    parts = [f"Dịch vụ trông giữ {vehicle} {_duration_text(entry, exit_)}", plate, lot_name]
    return " - ".join(p for p in parts if p) + f" ({_clock(entry)} - {_clock(exit_)})"


def _aware(value: str | datetime) -> datetime:
    result = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if result.tzinfo is None:
        raise ValueError(f"time without offset: {value!r}")
    return result


def _sale_item(item: Any) -> tuple[str, str, list[tuple[str, str]]]:
    """(line name, item code, validity extras) of a sale named by billing (a monthly pass)."""
    if not isinstance(item, Mapping) or not str(item.get("name") or "").strip():
        raise ValueError("an invoice item needs a name")
    validity = [
        (label, str(item[key]))
        for label, key in (("Hiệu lực từ", "valid_from"), ("Hiệu lực đến", "valid_until"))
        if item.get(key)
    ]
    return str(item["name"]), str(item.get("code") or "PARKING-PASS"), validity


def buyer_from_payload(buyer: Mapping[str, Any]) -> Buyer:
    """The buyer of an invoice request.

    A business account without its tax code or address still gets an invoice, made out to the
    company name as a person's would be: an exit is never left without an invoice for want of
    an address (a replacing invoice can name the company properly later).
    """
    name = buyer.get("name") or None
    tax_code = buyer.get("tax_code") or None
    address = buyer.get("address") or None
    wants_business = buyer.get("kind") == "business" or (not buyer.get("kind") and tax_code)
    kind: BuyerKind = "business" if wants_business and name and tax_code and address else "person"
    if wants_business and kind == "person":
        log.warning("business buyer %s lacks name, tax code or address", buyer.get("account_id"))
    account = buyer.get("account_id")
    return Buyer(
        kind=kind,
        name=name or ANONYMOUS_BUYER,
        tax_code=tax_code if kind == "business" else None,
        address=address if kind == "business" else None,
        customer_code=None if account is None else str(account),
    )


def invoice_from_request(
    payload: Mapping[str, Any],
    *,
    number: int,
    issued_at: datetime,
    series: str | None = None,
    template: str | None = None,
    mccqt: str | None = None,
    mccqt_sequence: int | None = None,
    rates: Sequence[VatRate] = DEFAULT_TABLE,
    provider_tax_code: str | None = None,
    original: OriginalInvoice | None = None,
) -> Invoice:
    """The invoice for one paid exit (an ``invoice_request`` payload), numbered ``number``.

    A sale that is not a stay (a monthly pass) carries ``item`` instead of ``entry_at`` and
    ``exit_at``: ``{name, code?, valid_from?, valid_until?}``, named by billing.

    In cash-register mode pass either the code itself (``mccqt``) or the seller's next sequence
    (``mccqt_sequence``), from which the code is made with the seller's ``cash_register_code``.
    """
    s = payload["seller"]
    template = template or str(s.get("invoice_template") or "1")
    series = series or s["invoice_series"]
    fare = payload["fare_vnd"]
    if isinstance(fare, bool) or not isinstance(fare, int) or fare <= 0:
        raise ValueError("an invoice request carries a positive integer fare")
    rate = rate_on(issued_at.astimezone(LOCAL_TZ).date(), rates)
    split = split_inclusive(fare, rate.percent)
    plate = payload.get("plate") or ""
    vehicle_class = payload.get("vehicle_class") or "car"
    item = payload.get("item")
    if item is not None:
        name, code, times = _sale_item(item)
    else:
        entry_at, exit_at = _aware(payload["entry_at"]), _aware(payload["exit_at"])
        lot = payload.get("lot_name") or str(payload.get("lot_id") or "")
        name = parking_line_name(vehicle_class, plate, lot, entry_at, exit_at)
        code = f"PARKING-{vehicle_class.upper()}"
        times = [
            ("Giờ vào", entry_at.astimezone(LOCAL_TZ).isoformat()),
            ("Giờ ra", exit_at.astimezone(LOCAL_TZ).isoformat()),
        ]
    line = InvoiceLine(
        number=1, name=name, pre_tax=split.pre_tax, vat_rate=rate.label, vat=split.vat, code=code
    )
    if mccqt is None and mccqt_sequence is not None:
        if not s.get("cash_register_code"):
            raise ValueError("the seller has no cash-register code")
        mccqt = cash_register_mccqt(
            template, issued_at.astimezone(LOCAL_TZ).year, s["cash_register_code"], mccqt_sequence
        )
    extras = [
        ("Biển số xe", plate),
        ("Loại xe", vehicle_class),
        ("Bãi xe", payload.get("lot_name") or str(payload.get("lot_id", ""))),
        ("Mã bãi xe", str(payload.get("lot_id", ""))),
        ("Cổng ra", str(payload.get("gate_id", ""))),
        *times,
        ("Mã sự kiện", str(payload.get("event_id", ""))),
        ("Mã phiên gửi xe", str(payload.get("session_id", ""))),
    ]
    lines = (line,)
    return Invoice(
        template=template,
        series=series,
        number=number,
        issued_at=issued_at,
        seller=SellerParty(name=s["name"], tax_code=s["tax_code"], address=s["address"]),
        buyer=buyer_from_payload(payload["buyer"]),
        lines=lines,
        totals=Totals.of(lines),
        provider_tax_code=provider_tax_code,
        extras=tuple((k, v) for k, v in extras if v),
        original=original,
        mccqt=mccqt,
    )
