"""E-invoices: lists with the tax authority's status, detail with history and rejection reasons,
and the invoice itself as signed XML, printable HTML and PDF (both with the lookup QR code)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from gateway.api import queries
from gateway.api.csv_export import CsvLimit, csv_response, local_cell, local_column
from gateway.api.schemas import AUTH_ERRORS, IdPath, Page, PagingDep, as_json_errors, not_found
from gateway.auth.principal import Principal
from gateway.deps import CurrentUser, SessionDep, SettingsDep
from gateway.invoice_links import lookup_link, public_base

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
    lookup_code: str | None = None


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
    lookup_url: str | None = Field(
        description="the public lookup page (QR target): PARKING_PUBLIC_URL/tra-cuu?ma=<code>"
    )
    authority_lookup_url: str | None = None


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


def invoice_filters(
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
) -> dict[str, Any]:
    """The list's filters as einvoice.queries takes them (unset ones left out)."""
    given = {
        "status": status_,
        "date_from": date_from,
        "date_to": date_to,
        "plate": plate,
        "code": code,
    }
    return {k: v for k, v in given.items() if v}


InvoiceFiltersDep = Annotated[dict[str, Any], Depends(invoice_filters)]


@router.get("/invoices", response_model=Page[InvoiceOut])
def list_invoices(
    session: SessionDep,
    user: CurrentUser,
    paging: PagingDep,
    filters: InvoiceFiltersDep,
    lot_id: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[InvoiceOut]:
    """Newest first: a driver's own invoices, an operator's lots' invoices."""
    items, total = visible_invoices(session, user, lot_id, filters, paging.limit, paging.offset)
    return Page(
        items=[invoice_out(i) for i in items],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


CSV_COLUMNS = (
    "invoice",
    "mccqt",
    local_column("issued_at"),
    "lot_id",
    "plate",
    "buyer_name",
    "buyer_tax_code",
    "pretax_vnd",
    "vat_vnd",
    "total_vnd",
    "vat_rate",
    "status",
    "kind",
)


@router.get(
    "/invoices.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}}
)
def invoices_csv(
    session: SessionDep,
    user: CurrentUser,
    filters: InvoiceFiltersDep,
    lot_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: CsvLimit = 10_000,
) -> Response:
    """The same invoices as ``/invoices`` for a spreadsheet, in local time."""
    items, _ = visible_invoices(session, user, lot_id, filters, limit, 0)
    rows = (
        (
            i.key,
            i.mccqt,
            local_cell(i.issued_at),
            i.lot_id,
            i.plate,
            i.buyer_name,
            i.buyer_tax_code,
            i.pretax_vnd,
            i.vat_vnd,
            i.total_vnd,
            i.vat_rate,
            i.status,
            i.kind,
        )
        for i in items
    )
    return csv_response("invoices.csv", CSV_COLUMNS, rows)


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
    invoice_id: IdPath,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
) -> InvoiceDetailOut:
    from einvoice.render import lookup_url

    detail = load_invoice(session, user, invoice_id)
    mccqt = detail.invoice.mccqt
    return InvoiceDetailOut(
        invoice=invoice_out(detail.invoice),
        history=[StatusChangeOut(**h.__dict__) for h in detail.history],
        corrections=[invoice_out(c) for c in detail.corrections],
        rejection_reasons=rejection_reasons(detail),
        lookup_url=lookup_link(public_base(settings, request), detail.invoice.lookup_code) or None,
        authority_lookup_url=lookup_url(settings.tax_authority_url, mccqt) if mccqt else None,
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
    invoice_id: IdPath,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
) -> HTMLResponse:
    from einvoice.render import render_html

    detail = load_invoice(session, user, invoice_id)
    _, data = invoice_file(session, invoice_id)
    return HTMLResponse(
        render_html(data, settings.tax_authority_url, **face(detail.invoice, settings, request))
    )


def face(summary: Any, settings: SettingsDep, request: Request) -> dict[str, Any]:
    """What the rendition prints besides the XML: status, lookup code and its QR target."""
    code = summary.lookup_code or ""
    return {
        "status": summary.status,
        "lookup_code": code,
        "public_lookup_url": lookup_link(public_base(settings, request), code),
    }


@router.get(
    "/invoices/{invoice_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **NO_INVOICE},
)
def invoice_pdf(
    invoice_id: IdPath,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
) -> Response:
    from einvoice.render import render_pdf

    detail = load_invoice(session, user, invoice_id)
    name, data = invoice_file(session, invoice_id)
    pdf = render_pdf(data, settings.tax_authority_url, **face(detail.invoice, settings, request))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name[:-4]}.pdf"'},
    )
