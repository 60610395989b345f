"""The tax office's pages, in Vietnamese: what arrived, from whom, what was refused and why.

Officers search by seller, date, buyer, plate, series (``C26MPK``) or invoice code
(``1C26MPK-00000013``) and read an invoice as a document beside its XML. The public lookup
(``/tra-cuu``) asks what the authority's portal asks: the seller's tax code, template, series,
number and total, and a captcha, so that nobody can page through other people's invoices by
their ascending numbers or codes.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from einvoice.invoice_codes import InvoiceCode, parse_invoice_code
from simulator.tax_authority import errors
from simulator.tax_authority.captcha import data_url
from simulator.tax_authority.db import InvoiceRow, RejectionRow, SellerRow
from simulator.tax_authority.deps import CaptchaDep, SessionDep, TemplatesDep
from simulator.tax_authority.service import search_key

if TYPE_CHECKING:
    from einvoice.render import InvoiceView

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def _invoice_query(seller: str | None, day: date | None, q: str | None) -> Select[InvoiceRow]:
    stmt = select(InvoiceRow)
    if seller:
        stmt = stmt.where(InvoiceRow.seller_tax_code == seller)
    if day:
        stmt = stmt.where(InvoiceRow.issue_date == day)
    text = (q or "").strip()
    if text:
        like = f"%{text}%"
        conditions: list[ColumnElement[bool]] = [
            InvoiceRow.mccqt.ilike(like),
            InvoiceRow.seller_tax_code.ilike(like),
            InvoiceRow.seller_name.ilike(like),
            InvoiceRow.buyer_name.ilike(like),
            InvoiceRow.buyer_tax_code.ilike(like),
        ]
        code = parse_invoice_code(text)
        if code is not None:
            conditions.append(_code_matches(code))
        key = search_key(text)
        if len(key) >= 3:  # a plate, or a part of one
            conditions.append(InvoiceRow.plate_key.contains(key, autoescape=True))
        stmt = stmt.where(or_(*conditions))
    return stmt


def _code_matches(code: InvoiceCode) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if code.mccqt is not None:
        parts.append(InvoiceRow.mccqt == code.mccqt)
    if code.template is not None:
        parts.append(InvoiceRow.template == code.template)
    if code.series is not None:
        parts.append(InvoiceRow.series == code.series)
    if code.number is not None:
        parts.append(InvoiceRow.number == code.number)
    return and_(*parts)


@router.get("/", response_class=HTMLResponse)
def invoices_page(
    request: Request,
    session: SessionDep,
    templates: TemplatesDep,
    seller: str | None = None,
    day: Annotated[str | None, Query(alias="date")] = None,
    q: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    try:
        on = date.fromisoformat(day) if day else None
    except ValueError:
        on = None
    stmt = _invoice_query(seller or None, on, q or None)
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(InvoiceRow.received_at.desc(), InvoiceRow.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    sellers = session.scalars(select(SellerRow).order_by(SellerRow.name)).all()
    return templates.TemplateResponse(
        request,
        "invoices.html",
        {
            "rows": rows,
            "count": count,
            "page": page,
            "pages": max(1, (count + PAGE_SIZE - 1) // PAGE_SIZE),
            "sellers": sellers,
            "seller": seller or "",
            "day": day or "",
            "q": q or "",
        },
    )


def document(row: InvoiceRow) -> InvoiceView:
    """The invoice as a person reads it (einvoice's rendition of the XML the authority holds)."""
    from einvoice.render import invoice_view

    return invoice_view(row.coded_xml or row.original_xml, "")


def _detail(request: Request, templates: TemplatesDep, row: InvoiceRow) -> Response:
    xml = (row.coded_xml or row.original_xml).decode("utf-8", "replace")
    return templates.TemplateResponse(
        request,
        "invoice.html",
        {
            "row": row,
            "xml": xml,
            "report": row.signature_report or {},
            "view": document(row),
            "qr": "",
            "status": None,
        },
    )


@router.get("/invoices/{mccqt}", response_class=HTMLResponse)
def invoice_page(
    mccqt: str, request: Request, session: SessionDep, templates: TemplatesDep
) -> Response:
    row = session.scalar(select(InvoiceRow).where(InvoiceRow.mccqt == mccqt))
    if row is None:
        return _missing(request, templates, mccqt)
    return _detail(request, templates, row)


@router.get("/invoices/{mccqt}/xml")
def invoice_xml(mccqt: str, session: SessionDep, original: bool = False) -> Response:
    row = session.scalar(select(InvoiceRow).where(InvoiceRow.mccqt == mccqt))
    if row is None:
        raise HTTPException(404, f"no invoice with code {mccqt}")
    body = row.original_xml if original or row.coded_xml is None else row.coded_xml
    return Response(
        body,
        media_type="application/xml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{mccqt}.xml"'},
    )


def _missing(request: Request, templates: TemplatesDep, code: str) -> Response:
    return templates.TemplateResponse(
        request, "missing.html", {"code": code}, status_code=404 if code else 200
    )


@router.get("/lookup", response_class=HTMLResponse)
def old_lookup(request: Request, templates: TemplatesDep, captcha: CaptchaDep) -> Response:
    """The QR codes of older invoices point here: the portal's form (a code alone shows
    nothing, or the ascending codes could be walked through)."""
    return _portal(request, templates, captcha, PortalForm())


TEMPLATES = ("1", "2")


@dataclass(frozen=True)
class PortalForm:
    mst: str = ""
    template: str = "1"
    series: str = ""
    number: str = ""
    total: str = ""

    def errors(self) -> dict[str, str]:
        out = {}
        if not (self.mst.isdigit() and len(self.mst) in (10, 13)):
            out["mst"] = "Mã số thuế gồm 10 hoặc 13 chữ số."
        if self.template not in TEMPLATES:
            out["template"] = "Chọn ký hiệu mẫu số."
        if parse_invoice_code(self.series) != InvoiceCode(series=self.series):
            out["series"] = "Ký hiệu hóa đơn gồm 6 ký tự, ví dụ C26MPK."
        if not (self.number.isdigit() and 0 < int(self.number) < 10**8):
            out["number"] = "Số hóa đơn là số nguyên dương, tối đa 8 chữ số."
        if self.total_vnd is None:
            out["total"] = "Tổng tiền thanh toán là số nguyên (đồng)."
        return out

    @property
    def total_vnd(self) -> int | None:
        digits = self.total.replace(".", "").replace(",", "").replace(" ", "")
        return int(digits) if digits.isdigit() and len(digits) <= 18 else None


def _portal(
    request: Request,
    templates: TemplatesDep,
    captcha: CaptchaDep,
    form: PortalForm,
    *,
    errors: dict[str, str] | None = None,
    not_found: bool = False,
    status_code: int = 200,
) -> Response:
    challenge = captcha.challenge()
    return templates.TemplateResponse(
        request,
        "lookup.html",
        {
            "form": form,
            "errors": errors or {},
            "not_found": not_found,
            "captcha_token": challenge.token,
            "captcha_image": data_url(challenge.png),
            "template_choices": TEMPLATES,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/tra-cuu", response_class=HTMLResponse)
def portal_form(request: Request, templates: TemplatesDep, captcha: CaptchaDep) -> Response:
    return _portal(request, templates, captcha, PortalForm())


@router.post("/tra-cuu", response_class=HTMLResponse)
def portal_lookup(
    request: Request,
    session: SessionDep,
    templates: TemplatesDep,
    captcha: CaptchaDep,
    mst: Annotated[str, Form(max_length=20)] = "",
    template: Annotated[str, Form(max_length=2)] = "",
    series: Annotated[str, Form(max_length=10)] = "",
    number: Annotated[str, Form(max_length=12)] = "",
    total: Annotated[str, Form(max_length=24)] = "",
    captcha_token: Annotated[str, Form(max_length=200)] = "",
    captcha_answer: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Looks an invoice up as the authority's portal does; every field must match."""
    form = PortalForm(
        mst.strip(), template.strip(), series.strip().upper(), number.strip(), total.strip()
    )
    errors = form.errors()
    if not captcha.check(captcha_token, captcha_answer):
        errors["captcha"] = "Mã kiểm tra không đúng hoặc đã hết hạn. Hãy nhập mã mới."
    if errors:
        return _portal(request, templates, captcha, form, errors=errors, status_code=422)
    row = session.scalar(
        select(InvoiceRow).where(
            InvoiceRow.seller_tax_code == form.mst,
            InvoiceRow.template == form.template,
            InvoiceRow.series == form.series,
            InvoiceRow.number == int(form.number),
            InvoiceRow.total == form.total_vnd,
        )
    )
    if row is None:
        log.info("portal lookup found nothing for %s %s%s", form.mst, form.template, form.series)
        return _portal(request, templates, captcha, form, not_found=True, status_code=404)
    xml = row.coded_xml or row.original_xml
    return templates.TemplateResponse(
        request,
        "found.html",
        {
            "row": row,
            "view": document(row),
            "qr": "",
            "status": None,
            "xml": xml.decode("utf-8", "replace"),
            "xml_href": "data:application/xml;base64," + base64.b64encode(xml).decode(),
        },
        headers={"Cache-Control": "no-store"},
    )


def seller_totals(session: Session) -> list[dict[str, object]]:
    stmt = (
        select(
            SellerRow.tax_code,
            SellerRow.name,
            SellerRow.cash_register_code,
            func.count(InvoiceRow.id),
            func.coalesce(func.sum(InvoiceRow.total_pretax), 0),
            func.coalesce(func.sum(InvoiceRow.total_vat), 0),
            func.coalesce(func.sum(InvoiceRow.total), 0),
        )
        .outerjoin(InvoiceRow, InvoiceRow.seller_tax_code == SellerRow.tax_code)
        .group_by(SellerRow.tax_code, SellerRow.name, SellerRow.cash_register_code)
        .order_by(SellerRow.name)
    )
    rejected = dict(
        session.execute(
            select(RejectionRow.seller_tax_code, func.count(RejectionRow.id)).group_by(
                RejectionRow.seller_tax_code
            )
        ).all()
    )
    return [
        {
            "tax_code": tax_code,
            "name": name,
            "code": cr_code,
            "count": count,
            "pretax": int(pretax),
            "vat": int(vat),
            "total": int(total),
            "rejected": rejected.get(tax_code, 0),
        }
        for tax_code, name, cr_code, count, pretax, vat, total in session.execute(stmt).all()
    ]


def per_seller_and_day(session: Session, limit: int = 100) -> list[dict[str, object]]:
    stmt = (
        select(
            InvoiceRow.seller_tax_code,
            InvoiceRow.seller_name,
            InvoiceRow.issue_date,
            func.count(InvoiceRow.id),
            func.coalesce(func.sum(InvoiceRow.total), 0),
        )
        .group_by(InvoiceRow.seller_tax_code, InvoiceRow.seller_name, InvoiceRow.issue_date)
        .order_by(InvoiceRow.issue_date.desc(), InvoiceRow.seller_name)
        .limit(limit)
    )
    return [
        {"tax_code": t, "name": n, "day": d, "count": c, "total": int(total)}
        for t, n, d, c, total in session.execute(stmt).all()
    ]


@router.get("/sellers", response_class=HTMLResponse)
def sellers_page(request: Request, session: SessionDep, templates: TemplatesDep) -> Response:
    return templates.TemplateResponse(
        request,
        "sellers.html",
        {"sellers": seller_totals(session), "days": per_seller_and_day(session)},
    )


@router.get("/rejections", response_class=HTMLResponse)
def rejections_page(
    request: Request,
    session: SessionDep,
    templates: TemplatesDep,
    seller: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    stmt = select(RejectionRow)
    if seller:
        stmt = stmt.where(RejectionRow.seller_tax_code == seller)
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(RejectionRow.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return templates.TemplateResponse(
        request,
        "rejections.html",
        {
            "rows": rows,
            "count": count,
            "page": page,
            "pages": max(1, (count + PAGE_SIZE - 1) // PAGE_SIZE),
            "seller": seller or "",
            "names": {e.code: e.name for e in errors.all_codes()},
            "meanings": errors.VIETNAMESE,
        },
    )


@router.get("/rejections/{rejection_id}", response_class=HTMLResponse)
def rejection_page(
    rejection_id: int, request: Request, session: SessionDep, templates: TemplatesDep
) -> Response:
    row = session.get(RejectionRow, rejection_id)
    if row is None:
        raise HTTPException(404, "no such rejection")
    xml = (row.original_xml or b"").decode("utf-8", "replace")
    return templates.TemplateResponse(
        request,
        "rejection.html",
        {
            "row": row,
            "xml": xml,
            "names": {e.code: e.name for e in errors.all_codes()},
            "meanings": errors.VIETNAMESE,
        },
    )


@router.get("/errors", response_class=HTMLResponse)
def errors_page(request: Request, templates: TemplatesDep) -> Response:
    return templates.TemplateResponse(
        request, "errors.html", {"codes": errors.all_codes(), "meanings": errors.VIETNAMESE}
    )
