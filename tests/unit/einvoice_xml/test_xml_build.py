"""Invoices built from requests are schema-valid; the schema catches what it should."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from lxml import etree

from einvoice.invoice_request import invoice_from_request
from einvoice.model import Invoice, OriginalInvoice
from einvoice.xml_build import build_hdon, invoice_xml, set_mccqt, to_bytes
from einvoice.xsd import validate

from .conftest import BUSINESS_BUYER, ISSUED_AT, request


@pytest.mark.parametrize("fare", [1, 2_000, 25_000, 105_000, 1_050_000, 99_999_999])
def test_person_invoices_validate(fare: int, make_invoice: Callable[..., Invoice]) -> None:
    xml = invoice_xml(make_invoice(payload=request(fare_vnd=fare)))
    assert validate(xml) == []
    root = etree.fromstring(xml)
    assert int(root.findtext("DLHDon/NDHDon/TToan/TgTTTBSo")) == fare
    pre = int(root.findtext("DLHDon/NDHDon/TToan/TgTCThue"))
    vat = int(root.findtext("DLHDon/NDHDon/TToan/TgTThue"))
    assert pre + vat == fare


def test_business_invoice_validates_and_names_the_company() -> None:
    inv = invoice_from_request(request(buyer=BUSINESS_BUYER), number=3, issued_at=ISSUED_AT)
    xml = invoice_xml(inv)
    assert validate(xml) == []
    buyer = etree.fromstring(xml).find("DLHDon/NDHDon/NMua")
    assert buyer.findtext("Ten") == "Công ty Cổ phần Vận tải Đông Á"
    assert buyer.findtext("MST") == "0309876543"
    assert buyer.findtext("HVTNMHang") is None


def test_layout_and_vietnamese_text(make_invoice: Callable[..., Invoice]) -> None:
    xml = invoice_xml(make_invoice(number=7))
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert "HÓA ĐƠN GIÁ TRỊ GIA TĂNG".encode() in xml  # raw UTF-8, not character references
    root = etree.fromstring(xml)
    assert [c.tag for c in root] == ["DLHDon", "MCCQT", "DSCKS"]
    data = root.find("DLHDon")
    assert data.get("Id") == "DLHDon-1C26MPK-00000007"
    assert [c.tag for c in data] == ["TTChung", "NDHDon", "TTKhac"]
    head = data.find("TTChung")
    assert head.findtext("KHHDon") == "C26MPK"
    assert head.findtext("SHDon") == "7"
    assert head.findtext("NLap") == "2026-03-02"
    assert root.findtext("MCCQT") == "M1-26-41849-00000000007"
    assert root.findtext("DLHDon/NDHDon/TToan/TgTTTBChu") == "Hai mươi lăm nghìn đồng"
    assert b"\n<HDon" in xml and xml.count(b"\n") == 1  # no indentation: signed bytes are stored


def test_invoice_date_is_local() -> None:
    from datetime import UTC, datetime

    late = datetime(2026, 3, 2, 18, 30, tzinfo=UTC)  # 01:30 on 3 March in Hanoi
    inv = invoice_from_request(request(), number=1, issued_at=late)
    assert etree.fromstring(invoice_xml(inv)).findtext("DLHDon/TTChung/NLap") == "2026-03-03"


def test_adjusting_invoice_validates() -> None:
    related = OriginalInvoice(2, "1", "C26MPK", 12, date(2026, 3, 2), note="Điều chỉnh biển số")
    inv = invoice_from_request(request(), number=13, issued_at=ISSUED_AT, original=related)
    xml = invoice_xml(inv)
    assert validate(xml) == []
    rel = etree.fromstring(xml).find("DLHDon/TTChung/TTHDLQuan")
    assert rel.findtext("TCHDon") == "2"
    assert rel.findtext("SHDCLQuan") == "12"
    assert rel.findtext("NLHDCLQuan") == "2026-03-02"


def test_tdiep_wrapper_is_validated_per_invoice(make_invoice: Callable[..., Invoice]) -> None:
    one = build_hdon(make_invoice(number=1))
    two = build_hdon(make_invoice(number=2))
    two.find("DLHDon/TTChung/KHHDon").text = "bad"
    msg = etree.Element("TDiep")
    etree.SubElement(msg, "TTChung")
    data = etree.SubElement(msg, "DLieu")
    data.extend([one, two])
    errors = validate(etree.tostring(msg))
    assert errors and all(e.startswith("HDon[2]") for e in errors)


def _mutated(make_invoice: Callable[..., Invoice], path: str, text: str | None) -> list[str]:
    root = build_hdon(make_invoice())
    el = root.find(path)
    if text is None:
        el.getparent().remove(el)
    else:
        el.text = text
    return validate(to_bytes(root))


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("DLHDon/TTChung/KHHDon", "C26mpk"),  # lower-case series
        ("DLHDon/TTChung/SHDon", "0"),
        ("DLHDon/TTChung/SHDon", "123456789"),  # more than 8 digits
        ("DLHDon/TTChung/NLap", "02/03/2026"),
        ("DLHDon/NDHDon/NBan/MST", "12345"),
        ("DLHDon/NDHDon/NBan/MST", None),
        ("DLHDon/NDHDon/DSHHDVu/HHDVu/TSuat", "9%"),
        ("DLHDon/NDHDon/TToan/TgTTTBSo", "25000.5"),
        ("DLHDon/NDHDon/TToan/TgTTTBSo", "25.000"),
        ("DLHDon/NDHDon/NMua/HVTNMHang", None),  # a person with no name
        ("MCCQT", "M1-26-41849-0000000001"),  # 22 characters
    ],
)
def test_schema_rejects(make_invoice: Callable[..., Invoice], path: str, text: str | None) -> None:
    assert _mutated(make_invoice, path, text)


def test_schema_rejects_missing_id(make_invoice: Callable[..., Invoice]) -> None:
    root = build_hdon(make_invoice())
    del root.find("DLHDon").attrib["Id"]
    assert any("Id" in e for e in validate(to_bytes(root)))


def test_validate_reports_unreadable_input() -> None:
    assert validate(b"<HDon>") != []
    assert validate(b"<Other/>")[0].startswith("root element")
    assert validate(b'<!DOCTYPE HDon [<!ENTITY a "b">]><HDon>&a;</HDon>') == [
        "a DOCTYPE/DTD is not allowed"
    ]


def test_set_mccqt_position_and_length(make_invoice: Callable[..., Invoice]) -> None:
    root = build_hdon(make_invoice(mccqt_sequence=None))
    assert root.find("MCCQT") is None
    set_mccqt(root, "00A1B2C3D4E5F60718293A4B5C"[:23], "code")
    assert [c.tag for c in root] == ["DLHDon", "MCCQT", "DSCKS"]
    assert root.find("MCCQT").get("Id") == "code"
    with pytest.raises(ValueError):
        set_mccqt(root, "short")


def test_every_built_invoice_is_schema_checked(make_invoice: Callable[..., Invoice]) -> None:
    """The autouse guard (tests/einvoice_schema_guard.py) is active here: building an invoice
    that does not conform fails the test that built it, whichever name it was built under."""
    from dataclasses import replace

    from einvoice import xml_build

    bad = replace(make_invoice(), series="C26mpk")  # lower case: not a KHHDon
    for build in (build_hdon, xml_build.build_hdon, invoice_xml, xml_build.hdon_text):
        with pytest.raises(AssertionError, match="does not conform"):
            build(bad)
