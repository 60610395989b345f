from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from einvoice.invoice_request import ANONYMOUS_BUYER, invoice_from_request
from einvoice.model import Buyer, Invoice, OriginalInvoice, cash_register_mccqt

from .conftest import BUSINESS_BUYER, ISSUED_AT, request


def test_cash_register_code_layout() -> None:
    code = cash_register_mccqt("1", 2026, "41849", 100000006)
    assert code == "M1-26-41849-00100000006"  # the example of the format
    assert len(code) == 23
    with pytest.raises(ValueError):
        cash_register_mccqt("1", 2026, "4184", 1)
    with pytest.raises(ValueError):
        cash_register_mccqt("1", 2026, "41849", 10**11)


def test_invoice_for_a_person(make_invoice: Callable[..., Invoice]) -> None:
    inv = make_invoice(number=12)
    assert inv.key == "1C26MPK-00000012"
    assert inv.issued_on == date(2026, 3, 2)
    assert inv.mccqt == "M1-26-41849-00000000012"
    assert inv.buyer == Buyer("person", "Nguyễn Văn An", customer_code="42")
    (line,) = inv.lines
    assert line.vat_rate == "8%"  # 2026 is inside a reduced-rate period
    assert (line.pre_tax, line.vat) == (23_148, 1_852)
    assert (inv.totals.pre_tax, inv.totals.vat, inv.totals.total) == (23_148, 1_852, 25_000)
    assert inv.totals.words == "Hai mươi lăm nghìn đồng"
    assert "ô tô" in line.name and "2 giờ 15 phút" in line.name and "30A-123.45" in line.name
    assert "Bãi xe Hoàn Kiếm" in line.name
    assert ("Biển số xe", "30A-123.45") in inv.extras


def test_invoice_for_a_business() -> None:
    inv = invoice_from_request(request(buyer=BUSINESS_BUYER), number=1, issued_at=ISSUED_AT)
    assert inv.buyer.kind == "business"
    assert inv.buyer.tax_code == "0309876543"
    assert inv.mccqt is None  # no sequence given: the code comes later


def test_person_without_name_gets_the_usual_text() -> None:
    buyer = {"account_id": 5, "kind": "person", "name": None, "tax_code": None, "address": None}
    inv = invoice_from_request(request(buyer=buyer), number=1, issued_at=ISSUED_AT)
    assert inv.buyer.name == ANONYMOUS_BUYER


def test_business_buyer_needs_tax_code_and_address() -> None:
    with pytest.raises(ValueError):
        Buyer("business", "Công ty A", tax_code=None, address="x")


@pytest.mark.parametrize("fare", [0, -5, 2.5, "25000"])
def test_request_needs_positive_integer_fare(fare: object) -> None:
    with pytest.raises(ValueError):
        invoice_from_request(request(fare_vnd=fare), number=1, issued_at=ISSUED_AT)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        invoice_from_request(request(entry_at="2026-03-02T08:00:00"), number=1, issued_at=ISSUED_AT)
    with pytest.raises(ValueError):
        invoice_from_request(request(), number=1, issued_at=ISSUED_AT.replace(tzinfo=None))


def test_related_invoice_is_carried() -> None:
    related = OriginalInvoice(2, "1", "C26MPK", 12, date(2026, 3, 2), note="Điều chỉnh biển số")
    inv = invoice_from_request(request(), number=13, issued_at=ISSUED_AT, original=related)
    assert inv.original == related


def test_number_limits() -> None:
    with pytest.raises(ValueError):
        invoice_from_request(request(), number=0, issued_at=ISSUED_AT)
    with pytest.raises(ValueError):
        invoice_from_request(request(), number=100_000_000, issued_at=ISSUED_AT)


def test_business_without_address_still_gets_an_invoice() -> None:
    buyer = {**BUSINESS_BUYER, "address": None}
    inv = invoice_from_request(request(buyer=buyer), number=1, issued_at=ISSUED_AT)
    assert inv.buyer == Buyer("person", "Công ty Cổ phần Vận tải Đông Á", customer_code="77")


def test_line_text_without_plate() -> None:
    inv = invoice_from_request(request(plate=None), number=1, issued_at=ISSUED_AT)
    assert inv.lines[0].name == (
        "Dịch vụ trông giữ ô tô 2 giờ 15 phút - Bãi xe Hoàn Kiếm"
        " (08:00 02/03/2026 - 10:15 02/03/2026)"
    )


@pytest.mark.parametrize(
    ("vehicle_class", "name"),
    [("car_le9", "ô tô đến 9 chỗ"), ("car_gt9_truck", "ô tô trên 9 chỗ, xe tải")],
)
def test_billing_vehicle_classes_are_named_in_vietnamese(vehicle_class: str, name: str) -> None:
    """The invoice line names what was parked as a person reads it, never billing's class code."""
    inv = invoice_from_request(
        request(plate=None, vehicle_class=vehicle_class), number=1, issued_at=ISSUED_AT
    )
    assert inv.lines[0].name.startswith(f"Dịch vụ trông giữ {name} 2 giờ 15 phút")
    assert vehicle_class not in inv.lines[0].name
