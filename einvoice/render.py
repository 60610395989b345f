"""Human renditions of an invoice: HTML and PDF, with a QR code to look it up.

Both are drawn from the stored, signed XML (the legal document), never from side columns, so
what a driver reads is what was signed. What people read is in Vietnamese: vehicle classes by
name, times as ``dd/mm/yyyy HH:MM`` in local time, the status in words; internal ids (gate
event, parking session, lot and gate codes, the buyer's account id) stay off the face, and the
buyer's tax code is printed only when there is one. The QR code encodes the seller's public
lookup page with the invoice's random lookup code (``<PARKING_PUBLIC_URL>/tra-cuu?ma=...``),
or, without one, the authority's lookup page for the invoice's code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import segno
from jinja2 import Environment, PackageLoader, select_autoescape
from lxml import etree

from billing.domain.vn import LOCAL_TZ, group_digits
from einvoice.lookup_codes import format_lookup_code
from einvoice.model import VEHICLE_CLASS_NAMES
from einvoice.xmlsafe import parse

if TYPE_CHECKING:
    from reportlab.lib.styles import ParagraphStyle

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/local/share/fonts/DejaVuSans.ttf"),
)
RELATION_NAMES = {"1": "Thay thế cho hóa đơn", "2": "Điều chỉnh cho hóa đơn"}
STATUS_NAMES = {
    "signed": "Đã ký, chờ gửi cơ quan thuế",
    "sent": "Đã gửi cơ quan thuế",
    "accepted": "Cơ quan thuế đã tiếp nhận",
    "rejected": "Cơ quan thuế từ chối",
}
# Extras (TTKhac) that name our own records, not anything a buyer or a tax officer reads.
INTERNAL_EXTRAS = frozenset({"Mã sự kiện", "Mã phiên gửi xe", "Mã bãi xe", "Cổng ra"})
TIME_EXTRAS = frozenset({"Giờ vào", "Giờ ra", "Hiệu lực từ", "Hiệu lực đến"})


@dataclass(frozen=True)
class Line:
    number: str
    name: str
    unit: str
    quantity: str
    unit_price: str
    amount: str
    rate: str


@dataclass(frozen=True)
class RateTotal:
    rate: str
    amount: str
    vat: str


@dataclass(frozen=True)
class Party:
    name: str
    tax_code: str
    address: str
    customer_code: str


@dataclass(frozen=True)
class InvoiceView:
    title: str
    template: str
    series: str
    number: str
    issue_date: str  # DD/MM/YYYY
    mccqt: str
    payment_method: str
    currency: str
    seller: Party
    buyer: Party
    lines: tuple[Line, ...]
    rate_totals: tuple[RateTotal, ...]
    pretax: str
    vat: str
    total: str
    total_words: str
    extras: tuple[tuple[str, str], ...]
    related: str  # "Điều chỉnh cho hóa đơn 1C26MPK số 12 ngày 02/03/2026 (lý do)" or ""
    signed_by: str
    signing_time: str
    authority_signed: bool
    lookup_url: str
    lookup_code: str = ""  # as printed, "7KQ2M-X9D4P"; empty for an invoice without one

    @property
    def key(self) -> str:
        return f"{self.template}{self.series}-{self.number.zfill(8)}"


def _t(el: etree._Element | None, path: str) -> str:
    if el is None:
        return ""
    return (el.findtext(path) or "").strip()


def vnd(text: str) -> str:
    """'1234567' -> '1.234.567' (Vietnamese grouping); non-numbers unchanged."""
    try:
        value = int(text)
    except ValueError:
        return text
    return group_digits(value)


def _number(text: str) -> str:
    if not text:
        return ""
    if "." in text:
        whole, frac = text.split(".", 1)
        frac = frac.rstrip("0")
        return vnd(whole) + ("," + frac if frac else "")
    return vnd(text)


def _date(text: str) -> str:
    if len(text) == 10 and text[4] == "-":
        return f"{text[8:10]}/{text[5:7]}/{text[0:4]}"
    return text


def lookup_url(base_url: str, mccqt: str) -> str:
    return f"{base_url.rstrip('/')}/lookup?{urlencode({'code': mccqt})}" if mccqt else ""


LOOKUP_PATH = "/tra-cuu"


def public_lookup_url(base_url: str | None, lookup_code: str | None) -> str:
    """The seller's public lookup page of an invoice: ``<base>/tra-cuu?ma=7KQ2M-X9D4P``
    ("" without a base URL or a code)."""
    if not base_url or not lookup_code:
        return ""
    query = urlencode({"ma": format_lookup_code(lookup_code)})
    return f"{base_url.rstrip('/')}{LOOKUP_PATH}?{query}"


def local_clock(text: str) -> str:
    """An ISO time (any offset) as ``dd/mm/yyyy HH:MM`` in local time, an ISO date as
    ``dd/mm/yyyy``; other text unchanged."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    if len(text.strip()) == 10:
        return moment.strftime("%d/%m/%Y")
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TZ)
    return moment.strftime("%d/%m/%Y %H:%M")


def readable_extras(extras: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The TTKhac fields a person reads: ids dropped, classes named, times made local."""
    out = []
    for name, value in extras:
        if name in INTERNAL_EXTRAS or not value:
            continue
        if name == "Loại xe":
            value = VEHICLE_CLASS_NAMES.get(value.lower(), value)
        elif name in TIME_EXTRAS:
            value = local_clock(value)
        out.append((name, value))
    return tuple(out)


def status_name(status: str | None) -> str:
    return STATUS_NAMES.get(status or "", status or "")


def invoice_view(
    xml: bytes, authority_url: str, *, public_lookup_url: str = "", lookup_code: str = ""
) -> InvoiceView:
    """What the face of the invoice shows. ``public_lookup_url`` (the seller's lookup page for
    this invoice's ``lookup_code``) goes in the QR code; without it, the authority's page."""
    root = parse(xml).getroot()
    if root.tag == "TDiep":
        found = root.find("DLieu/HDon")
        if found is None:
            raise ValueError("message carries no invoice")
        root = found
    if root.tag != "HDon":
        raise ValueError(f"not an invoice: <{root.tag}>")
    data = root.find("DLHDon")
    head = data.find("TTChung") if data is not None else None
    content = data.find("NDHDon") if data is not None else None
    seller = content.find("NBan") if content is not None else None
    buyer = content.find("NMua") if content is not None else None
    totals = content.find("TToan") if content is not None else None
    lines = tuple(
        Line(
            number=_t(el, "STT"),
            name=_t(el, "THHDVu"),
            unit=_t(el, "DVTinh"),
            quantity=_number(_t(el, "SLuong")),
            unit_price=_number(_t(el, "DGia")),
            amount=vnd(_t(el, "ThTien")),
            rate=_t(el, "TSuat"),
        )
        for el in (content.findall("DSHHDVu/HHDVu") if content is not None else [])
    )
    rate_totals = tuple(
        RateTotal(_t(el, "TSuat"), vnd(_t(el, "ThTien")), vnd(_t(el, "TThue")))
        for el in (totals.findall("THTTLTSuat/LTSuat") if totals is not None else [])
    )
    related = ""
    rel = head.find("TTHDLQuan") if head is not None else None
    if rel is not None:
        note = _t(rel, "GChu")
        related = (
            f"{RELATION_NAMES.get(_t(rel, 'TCHDon'), 'Liên quan đến hóa đơn')} "
            f"ký hiệu {_t(rel, 'KHMSHDCLQuan')}{_t(rel, 'KHHDCLQuan')} số {_t(rel, 'SHDCLQuan')} "
            f"ngày {_date(_t(rel, 'NLHDCLQuan'))}" + (f" ({note})" if note else "")
        )
    extras = tuple(
        (_t(el, "TTruong"), _t(el, "DLieu"))
        for el in (data.findall("TTKhac/TTin") if data is not None else [])
    )
    signing_time = ""
    for el in root.iterfind("DSCKS/NBan//{*}SigningTime"):
        signing_time = (el.text or "").strip()
    if not signing_time:
        for el in root.iterfind("DSCKS/NBan//SigningTime"):
            signing_time = (el.text or "").strip()
    mccqt = _t(root, "MCCQT")
    buyer_name = _t(buyer, "Ten") or _t(buyer, "HVTNMHang")
    return InvoiceView(
        title=_t(head, "THDon"),
        template=_t(head, "KHMSHDon"),
        series=_t(head, "KHHDon"),
        number=_t(head, "SHDon"),
        issue_date=_date(_t(head, "NLap")),
        mccqt=mccqt,
        payment_method=_t(head, "HTTToan"),
        currency=_t(head, "DVTTe") or "VND",
        seller=Party(_t(seller, "Ten"), _t(seller, "MST"), _t(seller, "DChi"), ""),
        # MKHang is our account id: kept in the XML, never printed.
        buyer=Party(buyer_name, _t(buyer, "MST"), _t(buyer, "DChi"), ""),
        lines=lines,
        rate_totals=rate_totals,
        pretax=vnd(_t(totals, "TgTCThue")),
        vat=vnd(_t(totals, "TgTThue")),
        total=vnd(_t(totals, "TgTTTBSo")),
        total_words=_t(totals, "TgTTTBChu"),
        extras=readable_extras(extras),
        related=related,
        signed_by=_t(seller, "Ten"),
        signing_time=local_clock(signing_time),
        authority_signed=root.find("DSCKS/CQT/{*}Signature") is not None
        or root.find("DSCKS/CQT/Signature") is not None,
        lookup_url=public_lookup_url or lookup_url(authority_url, mccqt),
        lookup_code=format_lookup_code(lookup_code) if lookup_code else "",
    )


# --- HTML ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("einvoice", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    return env


def qr_png(url: str, scale: int = 4) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


def qr_svg(url: str) -> str:
    return str(segno.make(url, error="m").svg_inline(scale=3, border=2)) if url else ""


def render_html(
    xml: bytes,
    authority_url: str,
    *,
    status: str | None = None,
    public_lookup_url: str = "",
    lookup_code: str = "",
    links: tuple[tuple[str, str], ...] = (),
) -> str:
    """A standalone HTML page (inline CSS and SVG, no external assets); ``links`` (label,
    href) go in a bar above the invoice (downloads on the public lookup page)."""
    view = invoice_view(
        xml, authority_url, public_lookup_url=public_lookup_url, lookup_code=lookup_code
    )
    template = _environment().get_template("invoice.html")
    return template.render(
        view=view,
        qr=qr_svg(view.lookup_url),
        status=status,
        status_name=status_name(status),
        links=links,
    )


# --- PDF ----------------------------------------------------------------------------------


class FontMissing(RuntimeError):
    """No TrueType font with Vietnamese glyphs (install Debian's fonts-dejavu-core)."""


def find_font(candidates: tuple[Path, ...] = FONT_CANDIDATES) -> Path:
    for path in candidates:
        if path.is_file():
            return path
    raise FontMissing(
        "no DejaVuSans.ttf found (looked in "
        + ", ".join(str(p) for p in candidates)
        + "); install fonts-dejavu-core"
    )


@lru_cache(maxsize=4)
def _register_fonts(regular: str) -> tuple[str, str]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    bold_path = Path(regular).with_name("DejaVuSans-Bold.ttf")
    pdfmetrics.registerFont(TTFont("InvoiceSans", regular))
    if bold_path.is_file():
        pdfmetrics.registerFont(TTFont("InvoiceSans-Bold", str(bold_path)))
        return "InvoiceSans", "InvoiceSans-Bold"
    return "InvoiceSans", "InvoiceSans"


def render_pdf(
    xml: bytes,
    authority_url: str,
    *,
    font_path: Path | None = None,
    status: str | None = None,
    public_lookup_url: str = "",
    lookup_code: str = "",
) -> bytes:
    """An A4 PDF of the invoice with embedded DejaVu Sans (Vietnamese glyphs) and the QR code."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    view = invoice_view(
        xml, authority_url, public_lookup_url=public_lookup_url, lookup_code=lookup_code
    )
    pdf = _PdfWriter(*_register_fonts(str(font_path or find_font())))
    story = [
        *pdf.heading(view, status),
        *pdf.parties(view),
        *pdf.line_table(view),
        *pdf.totals(view),
        *pdf.signature(view),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{view.title} {view.key}",
        author=view.seller.name,
        invariant=True,
    )
    doc.build(story)
    return out.getvalue()


def pdf_heading_lines(view: InvoiceView, status: str | None) -> list[str]:
    """The centred lines under the title: symbol and number, authority code, related, status."""
    lines = [
        f"Ký hiệu: {view.template}{view.series} &nbsp; Số: {view.number} &nbsp; "
        f"Ngày: {view.issue_date}"
    ]
    if view.mccqt:
        lines.append(f"Mã của cơ quan thuế: {view.mccqt}")
    if view.related:
        lines.append(view.related)
    if status:
        lines.append(f"Trạng thái: {status_name(status)}")
    return lines


def pdf_party_lines(view: InvoiceView) -> tuple[list[str], list[str]]:
    """The seller's and the buyer's blocks; a buyer's empty tax code or address is left out."""
    seller = [
        f"<b>Đơn vị bán:</b> {view.seller.name}",
        f"Mã số thuế: {view.seller.tax_code}",
        f"Địa chỉ: {view.seller.address}",
        f"Hình thức thanh toán: {view.payment_method}",
    ]
    buyer = [f"<b>Người mua:</b> {view.buyer.name}"]
    if view.buyer.tax_code:
        buyer.append(f"Mã số thuế: {view.buyer.tax_code}")
    if view.buyer.address:
        buyer.append(f"Địa chỉ: {view.buyer.address}")
    return seller, buyer


def pdf_total_lines(view: InvoiceView) -> list[str]:
    """One line per VAT rate, then the invoice's totals and the total in words."""
    lines = [
        f"Thuế suất {rt.rate}: tiền chưa thuế {rt.amount}, tiền thuế {rt.vat}"
        for rt in view.rate_totals
    ]
    return [
        *lines,
        f"Cộng tiền chưa thuế: {view.pretax} {view.currency}",
        f"Tiền thuế GTGT: {view.vat} {view.currency}",
        f"<b>Tổng tiền thanh toán: {view.total} {view.currency}</b>",
        f"Số tiền viết bằng chữ: {view.total_words}",
    ]


def pdf_signature_lines(view: InvoiceView) -> list[str]:
    """Who signed and when, the authority's signature, and the lookup code."""
    lines = [f"Ký điện tử bởi: {view.signed_by}", f"Thời gian ký: {view.signing_time}"]
    if view.authority_signed:
        lines.append("Đã có chữ ký của cơ quan thuế")
    if view.lookup_code:
        lines.append(f"Mã tra cứu: <b>{view.lookup_code}</b>")
    return lines


_LINE_HEADERS = ("STT", "Tên dịch vụ", "ĐVT", "SL", "Đơn giá", "Thành tiền", "Thuế suất")


class _PdfWriter:
    """The PDF's flowables, one method per block of the page, in the fonts registered."""

    def __init__(self, regular: str, bold: str) -> None:
        from reportlab.lib.styles import ParagraphStyle

        self.normal = ParagraphStyle("n", fontName=regular, fontSize=9, leading=12)
        self.small = ParagraphStyle("s", parent=self.normal, fontSize=8, leading=10)
        self.title = ParagraphStyle(
            "h", parent=self.normal, fontName=bold, fontSize=15, leading=19, alignment=1
        )
        self.centre = ParagraphStyle("c", parent=self.normal, alignment=1)

    def p(self, text: str, style: ParagraphStyle | None = None) -> object:
        from reportlab.platypus import Paragraph

        return Paragraph(_escape(text), style or self.normal)

    def heading(self, view: InvoiceView, status: str | None) -> list[object]:
        from reportlab.lib.units import mm
        from reportlab.platypus import Spacer

        return [
            self.p(view.title, self.title),
            *(self.p(x, self.centre) for x in pdf_heading_lines(view, status)),
            Spacer(1, 4 * mm),
        ]

    def parties(self, view: InvoiceView) -> list[object]:
        from reportlab.lib.units import mm
        from reportlab.platypus import Spacer, Table

        seller, buyer = pdf_party_lines(view)
        cells = [[[self.p(x) for x in seller], [self.p(x) for x in buyer]]]
        top = [("VALIGN", (0, 0), (-1, -1), "TOP")]
        return [Table(cells, colWidths=[90 * mm, 90 * mm], style=top), Spacer(1, 4 * mm)]

    def line_table(self, view: InvoiceView) -> list[object]:
        from reportlab.lib import colors
        from reportlab.lib.units import mm
        from reportlab.platypus import Spacer, Table, TableStyle

        rows = [[self.p(h, self.small) for h in _LINE_HEADERS]]
        for line in view.lines:
            cells = (line.number, line.name, line.unit, line.quantity, line.unit_price)
            rows.append([self.p(c, self.small) for c in (*cells, line.amount, line.rate)])
        table = Table(
            rows,
            colWidths=[10 * mm, 78 * mm, 14 * mm, 12 * mm, 22 * mm, 24 * mm, 18 * mm],
            repeatRows=1,
        )
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return [table, Spacer(1, 3 * mm)]

    def totals(self, view: InvoiceView) -> list[object]:
        from reportlab.lib.units import mm
        from reportlab.platypus import Spacer, Table

        story: list[object] = [
            Table([[self.p(x)] for x in pdf_total_lines(view)], colWidths=[178 * mm])
        ]
        if view.extras:
            story.append(Spacer(1, 3 * mm))
            story.append(self.p("; ".join(f"{k}: {v}" for k, v in view.extras), self.small))
        story.append(Spacer(1, 5 * mm))
        return story

    def signature(self, view: InvoiceView) -> list[object]:
        from reportlab.lib.units import mm
        from reportlab.platypus import Image, Table

        sign = [self.p(x) for x in pdf_signature_lines(view)]
        qr_cell: object = self.p("Chưa có mã của cơ quan thuế", self.small)
        if view.lookup_url:
            png = io.BytesIO(qr_png(view.lookup_url))
            caption = "Quét mã để tra cứu" if view.lookup_code else "Tra cứu tại cơ quan thuế"
            qr_cell = [Image(png, width=32 * mm, height=32 * mm), self.p(caption, self.small)]
        top = [("VALIGN", (0, 0), (-1, -1), "TOP")]
        return [Table([[sign, qr_cell]], colWidths=[140 * mm, 38 * mm], style=top)]


def _escape(text: str) -> str:
    """Escape for reportlab's mini-markup, keeping the <b> tags this module writes."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        escaped.replace("&lt;b&gt;", "<b>")
        .replace("&lt;/b&gt;", "</b>")
        .replace("&amp;nbsp;", "&nbsp;")
    )
