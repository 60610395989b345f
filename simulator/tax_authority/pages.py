"""The tax office's pages: what arrived, from whom, what was refused and why."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from simulator.tax_authority import errors
from simulator.tax_authority.db import InvoiceRow, RejectionRow, SellerRow
from simulator.tax_authority.deps import SessionDep, TemplatesDep

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def _invoice_query(seller: str | None, day: date | None, q: str | None) -> Select[InvoiceRow]:
    stmt = select(InvoiceRow)
    if seller:
        stmt = stmt.where(InvoiceRow.seller_tax_code == seller)
    if day:
        stmt = stmt.where(InvoiceRow.issue_date == day)
    if q:
        like = f"%{q.strip()}%"
        conditions: list[ColumnElement[bool]] = [
            InvoiceRow.mccqt.ilike(like),
            InvoiceRow.seller_tax_code.ilike(like),
            InvoiceRow.seller_name.ilike(like),
            InvoiceRow.buyer_name.ilike(like),
            InvoiceRow.buyer_tax_code.ilike(like),
        ]
        if q.strip().isdigit():
            conditions.append(InvoiceRow.number == int(q.strip()))
        stmt = stmt.where(or_(*conditions))
    return stmt


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


def _detail(request: Request, templates: TemplatesDep, row: InvoiceRow) -> Response:
    xml = (row.coded_xml or row.original_xml).decode("utf-8", "replace")
    return templates.TemplateResponse(
        request,
        "invoice.html",
        {"row": row, "xml": xml, "report": row.signature_report or {}},
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
def lookup_page(
    request: Request, session: SessionDep, templates: TemplatesDep, code: str = ""
) -> Response:
    """Target of the invoices' QR codes: a buyer checks that the authority has the invoice."""
    code = code.strip()
    row = session.scalar(select(InvoiceRow).where(InvoiceRow.mccqt == code)) if code else None
    if row is None:
        return _missing(request, templates, code)
    return _detail(request, templates, row)


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
        {"row": row, "xml": xml, "names": {e.code: e.name for e in errors.all_codes()}},
    )


@router.get("/errors", response_class=HTMLResponse)
def errors_page(request: Request, templates: TemplatesDep) -> Response:
    return templates.TemplateResponse(request, "errors.html", {"codes": errors.all_codes()})
