"""The invoice XML (root ``HDon``, PBan 2.1.0) written from an :class:`Invoice`.

The invoice is written as text, already in the canonical form (C14N 1.0) the signatures digest:
no namespace, no whitespace between elements, characters escaped as C14N escapes them. The
seller's signature then digests ``DLHDon`` as written, with no tree to build and no
canonicalization pass: that was most of the time spent making an invoice beside the RSA
operation itself (issue 14). :func:`build_hdon` parses the same text for the callers that want an
element (countersigning, tests, the mock's factory), so there is one layout.

The bytes that are signed are the bytes that are stored: a re-indented copy must not verify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from einvoice.c14n import escape_attr, escape_text
from einvoice.model import LOCAL_TZ, Buyer, Invoice, InvoiceLine, OriginalInvoice, SellerParty
from einvoice.model import cash_register_mccqt as cash_register_mccqt  # re-export
from einvoice.xmlsafe import parse

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

__all__ = [
    "HdonText",
    "build_hdon",
    "cash_register_mccqt",
    "hdon_text",
    "invoice_xml",
    "set_mccqt",
    "to_bytes",
]

# Characters XML 1.0 cannot carry at all (lxml refuses them when a tree is built).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class HdonText:
    """An unsigned invoice as canonical text: ``DLHDon`` (what the seller signs) and ``MCCQT``."""

    data_id: str
    data: str  # the DLHDon element; its C14N 1.0 form in the document is exactly this text
    mccqt: str = ""  # the MCCQT element, or "" (authority-coded invoices get theirs later)

    def document(self, seller_signature: str = "") -> bytes:
        """The file: declaration, HDon, and ``seller_signature`` (a Signature) in DSCKS/NBan."""
        body = f"<HDon>{self.data}{self.mccqt}<DSCKS><NBan>{seller_signature}</NBan></DSCKS></HDon>"
        return XML_DECLARATION + body.encode("utf-8")


def _el(tag: str, value: object) -> str:
    return f"<{tag}>{escape_text(str(value))}</{tag}>"


def _opt(tag: str, value: object | None) -> str:
    return "" if value is None or value == "" else _el(tag, value)


def _decimal(value: Decimal | int) -> str:
    """ "." as decimal point, no thousands separator, no exponent, no trailing zeros."""
    if isinstance(value, int):
        return str(value)
    return format(value.normalize(), "f")


def _original(rel: OriginalInvoice) -> str:
    return (
        "<TTHDLQuan>"
        f"<TCHDon>{rel.relation}</TCHDon>"
        f"<LHDCLQuan>{rel.kind}</LHDCLQuan>"
        + _el("KHMSHDCLQuan", rel.template)
        + _el("KHHDCLQuan", rel.series)
        + f"<SHDCLQuan>{rel.number}</SHDCLQuan>"
        f"<NLHDCLQuan>{rel.issued_on.isoformat()}</NLHDCLQuan>"
        + _opt("GChu", rel.note)
        + "</TTHDLQuan>"
    )


def _seller(s: SellerParty) -> str:
    return (
        "<NBan>"
        + _el("Ten", s.name)
        + _el("MST", s.tax_code)
        + _el("DChi", s.address)
        + _opt("SDThoai", s.phone)
        + _opt("DCTDTu", s.email)
        + _opt("STKNHang", s.bank_account)
        + _opt("TNHang", s.bank_name)
        + "</NBan>"
    )


def _buyer(b: Buyer) -> str:
    parts = ["<NMua>"]
    if b.kind == "business":
        parts += (_el("Ten", b.name), _el("MST", b.tax_code), _el("DChi", b.address))
    parts.append(_opt("MKHang", b.customer_code))
    if b.kind == "person":
        parts += (_opt("HVTNMHang", b.name), _opt("CCCDan", b.citizen_id))
    parts.append("</NMua>")
    return "".join(parts)


def _line(line: InvoiceLine) -> str:
    return (
        f"<HHDVu><TChat>{line.nature}</TChat><STT>{line.number}</STT>"
        + _opt("MHHDVu", line.code)
        + _el("THHDVu", line.name)
        + _opt("DVTinh", line.unit)
        + f"<SLuong>{_decimal(line.quantity)}</SLuong>"
        f"<DGia>{_decimal(line.effective_unit_price)}</DGia>"
        f"<ThTien>{line.pre_tax}</ThTien>" + _el("TSuat", line.vat_rate) + "</HHDVu>"
    )


def _totals(invoice: Invoice) -> str:
    totals = invoice.totals
    per_rate = "".join(
        "<LTSuat>"
        + _el("TSuat", rt.vat_rate)
        + f"<ThTien>{rt.pre_tax}</ThTien><TThue>{rt.vat}</TThue></LTSuat>"
        for rt in totals.per_rate
    )
    return (
        f"<TToan><THTTLTSuat>{per_rate}</THTTLTSuat>"
        f"<TgTCThue>{totals.pre_tax}</TgTCThue>"
        f"<TgTThue>{totals.vat}</TgTThue>"
        f"<TgTTTBSo>{totals.total}</TgTTTBSo>" + _el("TgTTTBChu", totals.words) + "</TToan>"
    )


def _extras(invoice: Invoice) -> str:
    if not invoice.extras:
        return ""
    items = "".join(
        f"<TTin>{_el('TTruong', name)}<KDLieu>string</KDLieu>{_el('DLieu', value)}</TTin>"
        for name, value in invoice.extras
    )
    return f"<TTKhac>{items}</TTKhac>"


def hdon_text(invoice: Invoice) -> HdonText:
    """The unsigned invoice as canonical text (see the module's docstring)."""
    data_id = invoice.data_id
    head = (
        "<TTChung>"
        + _el("PBan", invoice.format_version)
        + _el("THDon", invoice.title)
        + _el("KHMSHDon", invoice.template)
        + _el("KHHDon", invoice.series)
        + f"<SHDon>{invoice.number}</SHDon>"
        f"<NLap>{invoice.issued_at.astimezone(LOCAL_TZ).date().isoformat()}</NLap>"
        + _el("DVTTe", invoice.currency)
        + f"<TGia>{_decimal(invoice.exchange_rate)}</TGia>"
        + _el("HTTToan", invoice.payment_method)
        + _el("MSTTCGP", invoice.provider_tax_code or invoice.seller.tax_code)
        + (_original(invoice.original) if invoice.original is not None else "")
        + "</TTChung>"
    )
    content = (
        "<NDHDon>"
        + _seller(invoice.seller)
        + _buyer(invoice.buyer)
        + "<DSHHDVu>"
        + "".join(_line(line) for line in invoice.lines)
        + "</DSHHDVu>"
        + _totals(invoice)
        + "</NDHDon>"
    )
    data = f'<DLHDon Id="{escape_attr(data_id)}">{head}{content}{_extras(invoice)}</DLHDon>'
    bad = _NOT_XML.search(data)
    if bad is not None:
        raise ValueError(f"invoice text holds a character XML cannot carry: {bad.group()!r}")
    mccqt = ""
    if invoice.mccqt:
        _check_code(invoice.mccqt)
        mccqt = _el("MCCQT", invoice.mccqt)
    return HdonText(data_id, data, mccqt)


def build_hdon(invoice: Invoice) -> etree._Element:
    """The unsigned ``HDon`` element (with an empty ``DSCKS/NBan`` for the seller's signature)."""
    return parse(hdon_text(invoice).document()).getroot()


def _check_code(code: str) -> None:
    # 23: cash-register codes; 34: the authority's codes on coded invoices.
    if len(code) not in (23, 34):
        raise ValueError(f"MCCQT has 23 or 34 characters, got {len(code)}")


def set_mccqt(hdon: etree._Element, code: str, element_id: str | None = None) -> etree._Element:
    """Put the tax-authority code in place (after DLHDon/DLQRCode, before DSCKS)."""
    _check_code(code)
    el = hdon.find("MCCQT")
    if el is None:
        el = etree.Element("MCCQT")
        anchor = hdon.find("DLQRCode")
        if anchor is None:
            anchor = hdon.find("DLHDon")
        if anchor is None:
            raise ValueError("HDon has no DLHDon")
        anchor.addnext(el)
    el.text = code
    if element_id is not None:
        el.set("Id", element_id)
    return el


def to_bytes(hdon: etree._Element) -> bytes:
    """UTF-8 with an XML declaration, exactly as signed."""
    body = etree.tostring(hdon.getroottree(), xml_declaration=False, encoding="UTF-8")
    return XML_DECLARATION + body


def invoice_xml(invoice: Invoice) -> bytes:
    """The unsigned invoice as bytes."""
    return hdon_text(invoice).document()
