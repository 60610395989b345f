"""The TDiep message envelope exchanged with the tax authority (shape of decision 1450/QD-TCT).

One module shared by the submitter (client side) and the mock tax authority (server side), so
both agree on every element name. A message is::

    TDiep
      TTChung  PBan, MNGui, MNNhan, MLTDiep, MTDiep, MTDTChieu, MST, SLuong
      DLieu    one or more HDon (200, 202, 203, 206) or a TBao notice (204, 999, 300)

The mock answers one HTTP request with both the technical acknowledgement (999) and, when the
message could be read, the business result (202 or 204) wrapped in ``DSTDiep``::

    DSTDiep
      TDiep (999)
      TDiep (202 | 204)      absent when the 999 says "unreadable"

Parsing is safe by construction (:mod:`einvoice.xmlsafe`, the package's one parser): size limit
before parsing, no DTD (so no entity expansion and no external entities), no network access.
Whitespace is preserved because signatures cover it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import IntEnum

from lxml import etree

from einvoice import xmlsafe

PBAN = "2.1.0"
DEFAULT_MAX_BYTES = 1024 * 1024  # batches are limited to about 1 MB, like the real service

__all__ = [
    "DEFAULT_MAX_BYTES",
    "PBAN",
    "Ack",
    "Header",
    "InvoiceResult",
    "Message",
    "MessageType",
    "Reason",
    "Reply",
    "TDiepError",
    "build",
    "build_ack",
    "build_check_result",
    "build_error_notice",
    "build_reply",
    "hdon_bytes",
    "new_message_id",
    "parse",
    "parse_ack",
    "parse_check_result",
    "parse_reply",
    "safe_fromstring",
]


class MessageType(IntEnum):
    CODING_REQUEST = 200  # seller -> authority: please code and countersign this invoice
    CODED_INVOICE = 202  # authority -> seller: the invoice with MCCQT and the CQT signature
    NO_CODE_INVOICE = 203  # seller -> authority: invoice data without a code
    CHECK_RESULT = 204  # authority -> seller: result of the checks (rejections, per invoice)
    CASH_REGISTER = 206  # seller -> authority: cash-register invoices, single or batch
    ERROR_NOTICE = 300  # seller -> authority: notice of an erroneous invoice (form 04/SS-HDDT)
    TECHNICAL_ACK = 999  # either way: received / unreadable


class TDiepError(ValueError):
    """A message that cannot be read. ``kind`` maps to a documented technical error code."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # too_large | malformed | dtd_forbidden | envelope | unknown_type


@dataclass(frozen=True)
class Reason:
    code: str
    text: str


@dataclass(frozen=True)
class Header:
    sender: str  # MNGui
    receiver: str  # MNNhan
    type: int  # MLTDiep
    message_id: str  # MTDiep
    reference_id: str | None = None  # MTDTChieu: the message this one answers
    tax_code: str | None = None  # MST of the taxpayer concerned
    count: int = 1  # SLuong
    version: str = PBAN  # PBan


@dataclass(frozen=True)
class Message:
    header: Header
    body: etree._Element = field(compare=False)  # the DLieu element

    def invoices(self) -> list[etree._Element]:
        """The HDon elements carried directly in DLieu (not those inside a notice)."""
        return [el for el in self.body if el.tag == "HDon"]

    def notice(self) -> etree._Element | None:
        return self.body.find("TBao")


@dataclass(frozen=True)
class Ack:
    """A 999: was the message (``acked_id``) received and readable?"""

    acked_id: str
    received: bool
    received_at: str | None
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class InvoiceResult:
    """One invoice's outcome in a 204 (check result)."""

    accepted: bool
    template: str | None = None  # KHMSHDon
    series: str | None = None  # KHHDon
    number: int | None = None  # SHDon
    issue_date: str | None = None  # NLap, YYYY-MM-DD
    mccqt: str | None = None
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Reply:
    """What the mock tax authority answers to one POST: the 999 and the business result."""

    ack: Ack
    ack_message: Message
    result: Message | None


# --- parsing -------------------------------------------------------------------------------


def safe_fromstring(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse untrusted XML (:func:`einvoice.xmlsafe.parse`); its refusals as TDiepError."""
    try:
        return xmlsafe.parse(data, max_bytes=max_bytes).getroot()
    except xmlsafe.XMLRejected as exc:
        raise TDiepError(exc.kind, str(exc)) from None


def _text(parent: etree._Element, tag: str) -> str | None:
    el = parent.find(tag)
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None


def _required(parent: etree._Element, tag: str) -> str:
    value = _text(parent, tag)
    if value is None:
        raise TDiepError("envelope", f"TTChung/{tag} is missing or empty")
    return value


def _parse_element(root: etree._Element, *, strict: bool = True) -> Message:
    if root.tag != "TDiep":
        raise TDiepError("envelope", f"root element is {root.tag!r}, expected 'TDiep'")
    ttchung = root.find("TTChung")
    if ttchung is None:
        raise TDiepError("envelope", "TTChung is missing")
    body = root.find("DLieu")
    if body is None:
        raise TDiepError("envelope", "DLieu is missing")
    type_text = _required(ttchung, "MLTDiep")
    if not (type_text.isdigit() and len(type_text) <= 4):
        raise TDiepError("envelope", f"MLTDiep {type_text[:20]!r} is not a message type code")
    mtype = int(type_text)
    count_text = _text(ttchung, "SLuong") or "1"
    if not (count_text.isdigit() and len(count_text) <= 6):
        raise TDiepError("envelope", f"SLuong {count_text[:20]!r} is not a count")
    count = int(count_text)
    message_id = _required(ttchung, "MTDiep")
    if len(message_id) > 64:
        raise TDiepError("envelope", "MTDiep is longer than 64 characters")
    header = Header(
        sender=_required(ttchung, "MNGui"),
        # An answer to an unreadable message cannot name its receiver: lenient for replies.
        receiver=_required(ttchung, "MNNhan") if strict else (_text(ttchung, "MNNhan") or ""),
        type=mtype,
        message_id=message_id,
        reference_id=_text(ttchung, "MTDTChieu"),
        tax_code=_text(ttchung, "MST"),
        count=count,
        version=_text(ttchung, "PBan") or PBAN,
    )
    return Message(header=header, body=body)


def parse(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Message:
    """Parse one TDiep. Raises :class:`TDiepError` with a ``kind`` for every unreadable input."""
    return _parse_element(safe_fromstring(data, max_bytes))


def hdon_bytes(hdon: etree._Element) -> bytes:
    """The invoice exactly as carried (whitespace kept) as a standalone document."""
    return etree.tostring(hdon, encoding="UTF-8", xml_declaration=True, with_tail=False)


# --- building ------------------------------------------------------------------------------


def new_message_id(sender: str) -> str:
    """MTDiep: the sender code followed by 32 upper-case hex digits (unique per message)."""
    return f"{sender}{uuid.uuid4().hex.upper()}"


def _sub(parent: etree._Element, tag: str, text: object | None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _payload_element(item: etree._Element | bytes) -> etree._Element:
    if isinstance(item, bytes):
        return safe_fromstring(item, max_bytes=max(len(item), 1))
    return item


def build_element(header: Header, payload: Iterable[etree._Element | bytes] = ()) -> etree._Element:
    root = etree.Element("TDiep")
    tt = etree.SubElement(root, "TTChung")
    _sub(tt, "PBan", header.version)
    _sub(tt, "MNGui", header.sender)
    _sub(tt, "MNNhan", header.receiver)
    _sub(tt, "MLTDiep", int(header.type))
    _sub(tt, "MTDiep", header.message_id)
    _sub(tt, "MTDTChieu", header.reference_id or "")
    if header.tax_code:
        _sub(tt, "MST", header.tax_code)
    _sub(tt, "SLuong", header.count)
    body = etree.SubElement(root, "DLieu")
    for item in payload:
        # Appending moves an element: deep-copy so a caller's tree (e.g. a signed HDon) stays put.
        el = _payload_element(item)
        body.append(_copy(el))
    return root


def _copy(el: etree._Element) -> etree._Element:
    copied = deepcopy(el)
    copied.tail = None
    return copied


def build(header: Header, payload: Iterable[etree._Element | bytes] = ()) -> bytes:
    """Serialize a TDiep. HDon payloads are inserted unchanged (signatures stay valid)."""
    return _serialize(build_element(header, payload))


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _reasons(parent: etree._Element, reasons: Sequence[Reason]) -> None:
    if not reasons:
        return
    ds = etree.SubElement(parent, "DSLDo")
    for reason in reasons:
        ldo = etree.SubElement(ds, "LDo")
        _sub(ldo, "MLoi", reason.code)
        _sub(ldo, "MTa", reason.text)


def _read_reasons(parent: etree._Element) -> tuple[Reason, ...]:
    return tuple(
        Reason(code=_text(ldo, "MLoi") or "", text=_text(ldo, "MTa") or "")
        for ldo in parent.findall("DSLDo/LDo")
    )


def build_ack(
    acked_id: str,
    *,
    sender: str,
    receiver: str,
    received: bool,
    reasons: Sequence[Reason] = (),
    tax_code: str | None = None,
    message_id: str | None = None,
    received_at: str | None = None,
) -> bytes:
    """A 999 technical acknowledgement of message ``acked_id`` (TTTNhan 0 = received, 1 = not)."""
    header = Header(
        sender=sender,
        receiver=receiver,
        type=MessageType.TECHNICAL_ACK,
        message_id=message_id or new_message_id(sender),
        reference_id=acked_id,
        tax_code=tax_code,
        count=1,
    )
    root = build_element(header)
    tbao = etree.SubElement(root.find("DLieu"), "TBao")
    _sub(tbao, "MTDiep", acked_id)
    _sub(tbao, "MNGui", sender)
    _sub(tbao, "NNhan", received_at or _now_iso())
    _sub(tbao, "TTTNhan", 0 if received else 1)
    _reasons(tbao, reasons)
    return _serialize(root)


def parse_ack(message: Message) -> Ack:
    if message.header.type != MessageType.TECHNICAL_ACK:
        raise TDiepError("envelope", f"expected a 999, got {message.header.type}")
    tbao = message.notice()
    if tbao is None:
        raise TDiepError("envelope", "999 without TBao")
    return Ack(
        acked_id=_text(tbao, "MTDiep") or (message.header.reference_id or ""),
        received=_text(tbao, "TTTNhan") == "0",
        received_at=_text(tbao, "NNhan"),
        reasons=_read_reasons(tbao),
    )


def build_check_result(
    answered: Header,
    results: Sequence[InvoiceResult],
    *,
    sender: str,
    message_id: str | None = None,
) -> bytes:
    """A 204: per-invoice outcome of the checks (form 01/TB-KTDL), answering ``answered``."""
    header = Header(
        sender=sender,
        receiver=answered.sender,
        type=MessageType.CHECK_RESULT,
        message_id=message_id or new_message_id(sender),
        reference_id=answered.message_id,
        tax_code=answered.tax_code,
        count=len(results),
    )
    root = build_element(header)
    tbao = etree.SubElement(root.find("DLieu"), "TBao")
    _sub(tbao, "MSo", "01/TB-KTDL")
    _sub(tbao, "MTDiep", answered.message_id)
    _sub(tbao, "NTBao", _now_iso())
    _sub(tbao, "SLHDon", len(results))
    _sub(tbao, "SLHDonCNhan", sum(1 for r in results if r.accepted))
    ds = etree.SubElement(tbao, "DSKQua")
    for result in results:
        kq = etree.SubElement(ds, "KQua")
        _sub(kq, "TTXLy", 0 if result.accepted else 1)
        for tag, value in (
            ("MCCQT", result.mccqt),
            ("KHMSHDon", result.template),
            ("KHHDon", result.series),
            ("SHDon", result.number),
            ("NLap", result.issue_date),
        ):
            if value is not None:
                _sub(kq, tag, value)
        _reasons(kq, result.reasons)
    return _serialize(root)


def parse_check_result(message: Message) -> tuple[InvoiceResult, ...]:
    if message.header.type != MessageType.CHECK_RESULT:
        raise TDiepError("envelope", f"expected a 204, got {message.header.type}")
    tbao = message.notice()
    if tbao is None:
        raise TDiepError("envelope", "204 without TBao")
    results = []
    for kq in tbao.findall("DSKQua/KQua"):
        number = _text(kq, "SHDon")
        results.append(
            InvoiceResult(
                accepted=_text(kq, "TTXLy") == "0",
                template=_text(kq, "KHMSHDon"),
                series=_text(kq, "KHHDon"),
                number=int(number) if number and number.isdigit() else None,
                issue_date=_text(kq, "NLap"),
                mccqt=_text(kq, "MCCQT"),
                reasons=_read_reasons(kq),
            )
        )
    return tuple(results)


def build_error_notice(
    *,
    sender: str,
    receiver: str,
    tax_code: str,
    seller_name: str,
    invoices: Sequence[dict[str, str]],
    place: str = "",
    notice_date: date | None = None,
    message_id: str | None = None,
) -> bytes:
    """A 300: notice of erroneous invoices (form 04/SS-HDDT).

    Each item of ``invoices`` has MCQTCap (code), KHMSHDon, KHHDon, SHDon, Ngay, TCTBao
    (1 cancel, 2 adjust, 3 replace, 4 explain) and LDo (reason).
    """
    header = Header(
        sender=sender,
        receiver=receiver,
        type=MessageType.ERROR_NOTICE,
        message_id=message_id or new_message_id(sender),
        tax_code=tax_code,
        count=len(invoices),
    )
    root = build_element(header)
    tbao = etree.SubElement(root.find("DLieu"), "TBao")
    dl = etree.SubElement(tbao, "DLTBao")
    _sub(dl, "MSo", "04/SS-HDDT")
    _sub(dl, "TNNT", seller_name)
    _sub(dl, "MST", tax_code)
    _sub(dl, "DDanh", place)
    _sub(dl, "NTBao", (notice_date or datetime.now(UTC).date()).isoformat())
    ds = etree.SubElement(dl, "DSHDon")
    for item in invoices:
        hd = etree.SubElement(ds, "HDon")
        for tag in ("MCQTCap", "KHMSHDon", "KHHDon", "SHDon", "Ngay", "TCTBao", "LDo"):
            _sub(hd, tag, item.get(tag, ""))
    return _serialize(root)


def build_reply(ack: bytes, result: bytes | None = None) -> bytes:
    """Wrap the 999 and the business result into one HTTP answer body (DSTDiep)."""
    root = etree.Element("DSTDiep")
    root.append(safe_fromstring(ack, max_bytes=len(ack)))
    if result is not None:
        root.append(safe_fromstring(result, max_bytes=len(result)))
    return _serialize(root)


def parse_reply(data: bytes, max_bytes: int = 64 * DEFAULT_MAX_BYTES) -> Reply:
    """Read the authority's answer: a DSTDiep (999 + result) or a bare 999 TDiep."""
    root = safe_fromstring(data, max_bytes)
    if root.tag == "TDiep":
        messages = [_parse_element(root, strict=False)]
    elif root.tag == "DSTDiep":
        messages = [_parse_element(el, strict=False) for el in root if el.tag == "TDiep"]
    else:
        raise TDiepError("envelope", f"unexpected reply root {root.tag!r}")
    acks = [m for m in messages if m.header.type == MessageType.TECHNICAL_ACK]
    if not acks:
        raise TDiepError("envelope", "reply carries no 999 acknowledgement")
    others = [m for m in messages if m.header.type != MessageType.TECHNICAL_ACK]
    return Reply(ack=parse_ack(acks[0]), ack_message=acks[0], result=others[0] if others else None)
