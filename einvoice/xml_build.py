"""The invoice XML (root ``HDon``, PBan 2.1.0) built with lxml from an :class:`Invoice`.

No whitespace is added between elements: the bytes that are signed are the bytes that are
stored, and a re-indented copy must not verify.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from einvoice.model import LOCAL_TZ, Buyer, Invoice, InvoiceLine, RelatedInvoice, Seller
from einvoice.model import cash_register_mccqt as cash_register_mccqt  # re-export

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

__all__ = ["build_hdon", "cash_register_mccqt", "invoice_xml", "set_mccqt", "to_bytes"]


def _sub(parent: etree._Element, tag: str, text: object | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _opt(parent: etree._Element, tag: str, text: object | None) -> None:
    if text is not None and text != "":
        _sub(parent, tag, text)


def _decimal(value: Decimal | int) -> str:
    """ "." as decimal point, no thousands separator, no exponent, no trailing zeros."""
    if isinstance(value, int):
        return str(value)
    text = format(value.normalize(), "f")
    return text


def _related(parent: etree._Element, rel: RelatedInvoice) -> None:
    el = _sub(parent, "TTHDLQuan")
    _sub(el, "TCHDon", rel.relation)
    _sub(el, "LHDCLQuan", rel.kind)
    _sub(el, "KHMSHDCLQuan", rel.template)
    _sub(el, "KHHDCLQuan", rel.series)
    _sub(el, "SHDCLQuan", rel.number)
    _sub(el, "NLHDCLQuan", rel.issued_on.isoformat())
    _opt(el, "GChu", rel.note)


def _seller(parent: etree._Element, s: Seller) -> None:
    el = _sub(parent, "NBan")
    _sub(el, "Ten", s.name)
    _sub(el, "MST", s.tax_code)
    _sub(el, "DChi", s.address)
    _opt(el, "SDThoai", s.phone)
    _opt(el, "DCTDTu", s.email)
    _opt(el, "STKNHang", s.bank_account)
    _opt(el, "TNHang", s.bank_name)


def _buyer(parent: etree._Element, b: Buyer) -> None:
    el = _sub(parent, "NMua")
    if b.kind == "business":
        _sub(el, "Ten", b.name)
        _sub(el, "MST", b.tax_code)
        _sub(el, "DChi", b.address)
    _opt(el, "MKHang", b.customer_code)
    if b.kind == "person":
        _opt(el, "HVTNMHang", b.name)
        _opt(el, "CCCDan", b.citizen_id)


def _line(parent: etree._Element, line: InvoiceLine) -> None:
    el = _sub(parent, "HHDVu")
    _sub(el, "TChat", line.nature)
    _sub(el, "STT", line.number)
    _opt(el, "MHHDVu", line.code)
    _sub(el, "THHDVu", line.name)
    _opt(el, "DVTinh", line.unit)
    _sub(el, "SLuong", _decimal(line.quantity))
    _sub(el, "DGia", _decimal(line.effective_unit_price))
    _sub(el, "ThTien", line.pre_tax)
    _sub(el, "TSuat", line.vat_rate)


def build_hdon(invoice: Invoice) -> etree._Element:
    """The unsigned ``HDon`` element (with an empty ``DSCKS/NBan`` for the seller's signature)."""
    hdon = etree.Element("HDon")
    data = _sub(hdon, "DLHDon")
    data.set("Id", invoice.data_id)

    head = _sub(data, "TTChung")
    _sub(head, "PBan", invoice.format_version)
    _sub(head, "THDon", invoice.title)
    _sub(head, "KHMSHDon", invoice.template)
    _sub(head, "KHHDon", invoice.series)
    _sub(head, "SHDon", invoice.number)
    _sub(head, "NLap", invoice.issued_at.astimezone(LOCAL_TZ).date().isoformat())
    _sub(head, "DVTTe", invoice.currency)
    _sub(head, "TGia", _decimal(invoice.exchange_rate))
    _sub(head, "HTTToan", invoice.payment_method)
    _sub(head, "MSTTCGP", invoice.provider_tax_code or invoice.seller.tax_code)
    if invoice.related is not None:
        _related(head, invoice.related)

    content = _sub(data, "NDHDon")
    _seller(content, invoice.seller)
    _buyer(content, invoice.buyer)
    lines = _sub(content, "DSHHDVu")
    for line in invoice.lines:
        _line(lines, line)
    totals = _sub(content, "TToan")
    per_rate = _sub(totals, "THTTLTSuat")
    for rt in invoice.totals.per_rate:
        lt = _sub(per_rate, "LTSuat")
        _sub(lt, "TSuat", rt.vat_rate)
        _sub(lt, "ThTien", rt.pre_tax)
        _sub(lt, "TThue", rt.vat)
    _sub(totals, "TgTCThue", invoice.totals.pre_tax)
    _sub(totals, "TgTThue", invoice.totals.vat)
    _sub(totals, "TgTTTBSo", invoice.totals.total)
    _sub(totals, "TgTTTBChu", invoice.totals.words)

    if invoice.extras:
        extra = _sub(data, "TTKhac")
        for name, value in invoice.extras:
            info = _sub(extra, "TTin")
            _sub(info, "TTruong", name)
            _sub(info, "KDLieu", "string")
            _sub(info, "DLieu", value)

    if invoice.mccqt:
        _check_code(invoice.mccqt)
        _sub(hdon, "MCCQT", invoice.mccqt)
    signatures = _sub(hdon, "DSCKS")
    _sub(signatures, "NBan")
    return hdon


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
    return to_bytes(build_hdon(invoice))
