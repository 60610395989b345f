"""E-invoices: lists with the tax authority's status, detail with history and rejection reasons,
and the invoice itself as signed XML, printable HTML and PDF (both with the lookup QR code)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from gateway.api import queries
from gateway.api.schemas import AUTH_ERRORS, IdPath, Page, PagingDep, as_json_errors, not_found
from gateway.auth.principal import Principal
from gateway.deps import CurrentUser, SessionDep, SettingsDep

router = APIRouter(tags=["invoices"], responses=AUTH_ERRORS)
NO_INVOICE = not_found("no such invoice")

InvoiceStatus = Literal["signed", "sent", "accepted", "rejected"]


class InvoiceOut(BaseModel):
    id: int
    key: str
    kind: str
    mode: str
    template: str
    series: str
    number: int
    issue_date: date
    issued_at: datetime
    mccqt: str | None
    status: str
    event_id: str | None
    related_invoice_id: int | None
    seller_tax_code: str
    seller_name: str
    buyer_account_id: str | None
    buyer_name: str | None
    lot_id: str | None
    plate: str | None
    pretax_vnd: int
    vat_vnd: int
    total_vnd: int
    vat_rate: str
    last_error: str | None


class StatusChangeOut(BaseModel):
    status: str
    at: datetime
    message_id: str | None
    detail: dict[str, Any] | None


class InvoiceDetailOut(BaseModel):
    invoice: InvoiceOut
    history: list[StatusChangeOut]
    corrections: list[InvoiceOut]
    rejection_reasons: list[dict[str, Any]]
    lookup_url: str | None


def invoice_out(s: Any) -> InvoiceOut:
    fields = {name: getattr(s, name) for name in InvoiceOut.model_fields if name != "key"}
    return InvoiceOut(key=s.key, **fields)


def visible_invoices(
    session: SessionDep,
    user: Principal,
    lot_id: str | None,
    filters: dict[str, Any],
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    """A driver's own invoices, an operator's lots' invoices, an admin's all (or one lot's)."""
    from einvoice import queries as inv

    if user.role == "driver":
        if user.account_id is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "no account linked to this user")
        filters = {**filters, "account_id": user.account_id}
        if lot_id:
            filters["lot_id"] = lot_id
    elif lot_id is not None or not user.is_admin:
        lots = queries.visible_lot_ids(session, user)
        if lot_id is not None:
            if lot_id not in lots:
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"no access to lot {lot_id}")
            lots = [lot_id]
        filters = {**filters, "lot_ids": lots}
    items = inv.list_invoices(session, limit=limit, offset=offset, **filters)
    return items, inv.count_invoices(session, **filters)


@router.get("/invoices", response_model=Page[InvoiceOut])
def list_invoices(
    session: SessionDep,
    user: CurrentUser,
    paging: PagingDep,
    lot_id: Annotated[str | None, Query(max_length=40)] = None,
    status_: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
    date_from: date | None = None,
    date_to: date | None = None,
    plate: Annotated[
        str | None, Query(max_length=20, description="any part of the plate, e.g. 12345")
    ] = None,
    code: Annotated[
        str | None,
        Query(
            max_length=40,
            description="invoice code 1C26MPK-00000013, series C26MPK, number, or MCCQT",
        ),
    ] = None,
) -> Page[InvoiceOut]:
    """Newest first: a driver's own invoices, an operator's lots' invoices."""
    filters: dict[str, Any] = {}
    if code:
        filters["code"] = code
    if status_:
        filters["status"] = status_
    if date_from:
        filters["date_from"] = date_from
    if date_to:
        filters["date_to"] = date_to
    if plate:
        filters["plate"] = plate
    items, total = visible_invoices(session, user, lot_id, filters, paging.limit, paging.offset)
    return Page(
        items=[invoice_out(i) for i in items],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


def load_invoice(session: SessionDep, user: Principal, invoice_id: int) -> Any:
    from einvoice import queries as inv

    detail = inv.get_invoice(session, invoice_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no invoice {invoice_id}")
    summary = detail.invoice
    if user.role == "driver":
        allowed = summary.buyer_account_id is not None and user.owns_account(
            summary.buyer_account_id
        )
    else:
        allowed = user.is_admin or (
            summary.lot_id is not None and summary.lot_id in queries.visible_lot_ids(session, user)
        )
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"no access to invoice {invoice_id}")
    return detail


def rejection_reasons(detail: Any) -> list[dict[str, Any]]:
    for change in reversed(detail.history):
        if change.status == "rejected":
            return list((change.detail or {}).get("reasons") or [])
    return []


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetailOut, responses=NO_INVOICE)
def get_invoice(
    invoice_id: IdPath, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> InvoiceDetailOut:
    from einvoice.render import lookup_url

    detail = load_invoice(session, user, invoice_id)
    mccqt = detail.invoice.mccqt
    return InvoiceDetailOut(
        invoice=invoice_out(detail.invoice),
        history=[StatusChangeOut(**h.__dict__) for h in detail.history],
        corrections=[invoice_out(c) for c in detail.corrections],
        rejection_reasons=rejection_reasons(detail),
        lookup_url=lookup_url(settings.tax_authority_url, mccqt) if mccqt else None,
    )


def invoice_file(session: SessionDep, invoice_id: int) -> tuple[str, bytes]:
    from einvoice import queries as inv

    return inv.invoice_xml(session, invoice_id)


@router.get(
    "/invoices/{invoice_id}/xml",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}, **NO_INVOICE},
)
def invoice_xml(invoice_id: IdPath, session: SessionDep, user: CurrentUser) -> Response:
    """The signed invoice (the authority's coded copy when there is one), byte for byte."""
    load_invoice(session, user, invoice_id)
    name, data = invoice_file(session, invoice_id)
    return Response(
        data,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/invoices/{invoice_id}/html",
    response_class=HTMLResponse,
    responses=as_json_errors({**AUTH_ERRORS, **NO_INVOICE}),
)
def invoice_html(
    invoice_id: IdPath, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> HTMLResponse:
    from einvoice.render import render_html

    detail = load_invoice(session, user, invoice_id)
    _, data = invoice_file(session, invoice_id)
    return HTMLResponse(render_html(data, settings.tax_authority_url, status=detail.invoice.status))


@router.get(
    "/invoices/{invoice_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **NO_INVOICE},
)
def invoice_pdf(
    invoice_id: IdPath, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> Response:
    from einvoice.render import render_pdf

    detail = load_invoice(session, user, invoice_id)
    name, data = invoice_file(session, invoice_id)
    pdf = render_pdf(data, settings.tax_authority_url, status=detail.invoice.status)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name[:-4]}.pdf"'},
    )
