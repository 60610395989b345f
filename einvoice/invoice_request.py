"""From billing's invoice request (``InvoiceRequested``, an outbox event) to the invoice model.

One paid exit (or a sale named by billing, a monthly pass) becomes one :class:`Invoice` line
with the VAT rate billing booked the fare at (``vat_percent``: billing.domain.vat, the one source
of the rate); a request written before billing named the rate gets the rate in force on the day
of the sale from the same table. The invoice's number, series, code and time come from the
numbering side (:mod:`einvoice.worker`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from billing.domain.events import InvoiceBuyer, InvoiceRequested
from billing.domain.vat import rate_on, split_inclusive
from einvoice.model import (
    LOCAL_TZ,
    VEHICLE_CLASS_NAMES,
    Buyer,
    BuyerKind,
    Invoice,
    InvoiceLine,
    OriginalInvoice,
    SellerParty,
    Totals,
    cash_register_mccqt,
)

log = logging.getLogger(__name__)

ANONYMOUS_BUYER = "Người mua không lấy hóa đơn"  # the usual text when a person gives no name


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
    t = moment if moment.tzinfo is LOCAL_TZ else moment.astimezone(LOCAL_TZ)
    return f"{t.hour:02d}:{t.minute:02d} {t.day:02d}/{t.month:02d}/{t.year}"


def _face_time(moment: datetime) -> str:
    """``dd/mm/yyyy HH:MM`` in local time, as Vietnamese invoices print times."""
    t = moment if moment.tzinfo is LOCAL_TZ else moment.astimezone(LOCAL_TZ)
    return f"{t.day:02d}/{t.month:02d}/{t.year} {t.hour:02d}:{t.minute:02d}"


def parking_line_name(
    vehicle_class: str, plate: str, lot_name: str, entry: datetime, exit_: datetime
) -> str:
    """E.g. "Dịch vụ trông giữ ô tô 2 giờ 15 phút - 30A-123.45 - Bãi xe Hoàn Kiếm (...)"."""
    vehicle = VEHICLE_CLASS_NAMES.get(vehicle_class.lower(), vehicle_class)
    parts = [f"Dịch vụ trông giữ {vehicle} {_duration_text(entry, exit_)}", plate, lot_name]
    return " - ".join(p for p in parts if p) + f" ({_clock(entry)} - {_clock(exit_)})"


def buyer_of(buyer: InvoiceBuyer) -> Buyer:
    """The buyer of an invoice request.

    A business account without its tax code or address still gets an invoice, made out to the
    company name as a person's would be: an exit is never left without an invoice for want of
    an address (a replacing invoice can name the company properly later).
    """
    name, tax_code, address = buyer.name or None, buyer.tax_code or None, buyer.address or None
    wants_business = buyer.kind == "business"
    kind: BuyerKind = "business" if wants_business and name and tax_code and address else "person"
    if wants_business and kind == "person":
        log.warning("business buyer %s lacks name, tax code or address", buyer.account_id)
    return Buyer(
        kind=kind,
        name=name or ANONYMOUS_BUYER,
        tax_code=tax_code if kind == "business" else None,
        address=address if kind == "business" else None,
        customer_code=str(buyer.account_id),
    )


def sale_day(request: InvoiceRequested, issued_at: datetime) -> date:
    """The local date of the sale: the exit, or (a pass) the day the invoice is issued."""
    return (request.exit_at or issued_at).astimezone(LOCAL_TZ).date()


def _line_and_times(request: InvoiceRequested) -> tuple[str, str, list[tuple[str, str]]]:
    """(line name, item code, time extras) of a stay, or of a sale billing named."""
    plate, vehicle_class = request.plate or "", request.vehicle_class or "car"
    if request.item is not None:
        item = request.item
        validity = [
            (label, day.isoformat())
            for label, day in (("Hiệu lực từ", item.valid_from), ("Hiệu lực đến", item.valid_until))
            if day
        ]
        return item.name, item.code or "PARKING-PASS", validity
    assert request.entry_at is not None and request.exit_at is not None  # InvoiceRequested says
    lot = request.lot_name or request.lot_id
    # each moment in local time once: the line's name and the face's times both print it
    entry, exit_ = request.entry_at.astimezone(LOCAL_TZ), request.exit_at.astimezone(LOCAL_TZ)
    name = parking_line_name(vehicle_class, plate, lot, entry, exit_)
    times = [("Giờ vào", _face_time(entry)), ("Giờ ra", _face_time(exit_))]
    return name, f"PARKING-{vehicle_class.upper()}", times


def request_line(request: InvoiceRequested, number: int, percent: int) -> InvoiceLine:
    """Line ``number`` of an invoice: the request's stay (or sale), its VAT-inclusive fare
    split at ``percent`` so that the line adds back to what was paid."""
    name, code, _ = _line_and_times(request)
    return _line(request, number, percent, name, code)


def _line(
    request: InvoiceRequested, number: int, percent: int, name: str, code: str
) -> InvoiceLine:
    split = split_inclusive(request.fare_vnd, percent)
    return InvoiceLine(
        number=number,
        name=name,
        pre_tax=split.pre_tax,
        vat_rate=f"{percent}%",
        vat=split.vat,
        code=code,
    )


def request_percent(request: InvoiceRequested, issued_at: datetime) -> int:
    """The VAT rate billing booked the request at (older requests: the rate on the sale day)."""
    if request.vat_percent is not None:
        return request.vat_percent
    return rate_on(sale_day(request, issued_at)).percent


def invoice_from_request(
    request: InvoiceRequested | Mapping[str, Any],
    *,
    number: int,
    issued_at: datetime,
    series: str | None = None,
    template: str | None = None,
    mccqt: str | None = None,
    mccqt_sequence: int | None = None,
    provider_tax_code: str | None = None,
    original: OriginalInvoice | None = None,
) -> Invoice:
    """The invoice for one invoice request (or its outbox payload), numbered ``number``.

    In cash-register mode pass either the code itself (``mccqt``) or the seller's next sequence
    (``mccqt_sequence``), from which the code is made with the seller's ``cash_register_code``.
    """
    if not isinstance(request, InvoiceRequested):
        request = InvoiceRequested.from_payload(request)
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    seller = request.seller
    template = template or seller.invoice_template or "1"
    percent = request_percent(request, issued_at)
    # the line's name and the face's times come from one reading of the stay's clock times
    name, code, times = _line_and_times(request)
    line = _line(request, 1, percent, name, code)
    if mccqt is None and mccqt_sequence is not None:
        if not seller.cash_register_code:
            raise ValueError("the seller has no cash-register code")
        year = issued_at.astimezone(LOCAL_TZ).year
        mccqt = cash_register_mccqt(template, year, seller.cash_register_code, mccqt_sequence)
    # What the buyer and the tax office read: no ids of our records (event, session, lot and
    # gate codes live in the invoice's row, not on its face).
    vehicle_class = request.vehicle_class or "car"
    extras = [
        ("Biển số xe", request.plate or ""),
        ("Loại xe", VEHICLE_CLASS_NAMES.get(vehicle_class.lower(), vehicle_class)),
        ("Bãi xe", request.lot_name or request.lot_id),
        *times,
    ]
    lines = (line,)
    return Invoice(
        template=template,
        series=series or seller.invoice_series,
        number=number,
        issued_at=issued_at,
        seller=SellerParty(name=seller.name, tax_code=seller.tax_code, address=seller.address),
        buyer=buyer_of(request.buyer),
        lines=lines,
        totals=Totals.of(lines),
        provider_tax_code=provider_tax_code,
        extras=tuple((k, v) for k, v in extras if v),
        original=original,
        mccqt=mccqt,
    )
