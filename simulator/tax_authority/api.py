"""HTTP API of the mock tax authority: messages in, lookups, seller registration (admin)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from einvoice import tdiep
from einvoice.tdiep import Reason
from simulator.tax_authority import errors
from simulator.tax_authority.db import InvoiceRow
from simulator.tax_authority.deps import ServiceDep, SessionDep, SettingsDep
from simulator.tax_authority.registry import RegisteredSeller, RegistrationError
from simulator.tax_authority.store import list_sellers, register_seller

log = logging.getLogger("simulator.tax_authority")
router = APIRouter()
XML = "application/xml; charset=utf-8"


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds ``limit`` (never buffers an oversized body)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/api/tdiep",
    summary="Receive a TDiep (200, 203, 206, 300)",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "DSTDiep: 999 + 202/204"},
        400: {"content": {"application/xml": {}}, "description": "999 unreadable"},
        413: {"content": {"application/xml": {}}, "description": "999 too large"},
    },
)
async def receive_message(request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    body = await _read_limited(request, settings.max_body_bytes)
    if body is None:
        log.warning("tax authority: message over %d bytes refused", settings.max_body_bytes)
        ack = tdiep.build_ack(
            "",
            sender=settings.code,
            receiver="",
            received=False,
            reasons=(
                Reason(
                    errors.TECHNICAL_BY_KIND["too_large"],
                    f"message exceeds {settings.max_body_bytes} bytes",
                ),
            ),
        )
        return Response(tdiep.build_reply(ack), status_code=413, media_type=XML)
    answer = await run_in_threadpool(service.handle, body)
    headers = {"X-Resent": "1"} if answer.resent else None
    return Response(answer.body, status_code=answer.status, media_type=XML, headers=headers)


def invoice_json(row: InvoiceRow) -> dict[str, object]:
    return {
        "mccqt": row.mccqt,
        "mode": row.mode,
        "seller": {"tax_code": row.seller_tax_code, "name": row.seller_name},
        "buyer": {"name": row.buyer_name, "tax_code": row.buyer_tax_code},
        "template": row.template,
        "series": row.series,
        "number": row.number,
        "issue_date": row.issue_date.isoformat(),
        "total_pretax_vnd": row.total_pretax,
        "total_vat_vnd": row.total_vat,
        "total_vnd": row.total,
        "received_at": row.received_at.isoformat(),
        "message_id": row.message_id,
        "signature": row.signature_report,
        "countersigned": row.coded_xml is not None,
    }


@router.get("/api/invoices/{mccqt}", summary="Look an accepted invoice up by its code")
def lookup_invoice(
    mccqt: str,
    session: SessionDep,
    request: Request,
    format: Annotated[str | None, Query(pattern="^(json|xml)$")] = None,
) -> Response:
    row = session.scalar(select(InvoiceRow).where(InvoiceRow.mccqt == mccqt))
    if row is None:
        raise HTTPException(404, f"no invoice with code {mccqt}")
    wants_xml = format == "xml" or (
        format is None and "xml" in request.headers.get("accept", "").split(",")[0]
    )
    if wants_xml:
        return Response(row.coded_xml or row.original_xml, media_type=XML)
    return JSONResponse(invoice_json(row))


@router.get("/api/errors", summary="Every error code the authority answers")
def error_codes() -> list[dict[str, str]]:
    return [
        {"code": e.code, "name": e.name, "level": e.level, "description": e.description}
        for e in errors.all_codes()
    ]


class SellerIn(BaseModel):
    tax_code: str = Field(examples=["0101234567"])
    name: str
    cash_register_code: str = Field(min_length=5, max_length=5, examples=["41849"])
    series: list[str] = Field(default_factory=lambda: ["*"], examples=[["1/C??MPK"]])


class SellerOut(BaseModel):
    tax_code: str
    name: str
    cash_register_code: str
    series: list[str]


def _out(seller: RegisteredSeller) -> SellerOut:
    return SellerOut(
        tax_code=seller.tax_code,
        name=seller.name,
        cash_register_code=seller.cash_register_code,
        series=list(seller.series_patterns),
    )


def _check_admin(settings: SettingsDep, token: str | None) -> None:
    if settings.admin_token and token != settings.admin_token:
        raise HTTPException(401, "admin token required (X-Admin-Token)")


@router.post("/api/admin/sellers", status_code=201, summary="Register or update a seller")
def admin_register_seller(
    payload: SellerIn,
    session: SessionDep,
    settings: SettingsDep,
    x_admin_token: Annotated[str | None, Header()] = None,
) -> SellerOut:
    _check_admin(settings, x_admin_token)
    try:
        seller = RegisteredSeller(
            tax_code=payload.tax_code,
            name=payload.name,
            cash_register_code=payload.cash_register_code.upper(),
            series_patterns=tuple(payload.series),
        )
        seller = register_seller(session, seller)
    except RegistrationError as exc:
        raise HTTPException(422, str(exc)) from None
    session.commit()
    log.info("tax authority: seller %s registered", seller.tax_code)
    return _out(seller)


@router.get("/api/admin/sellers", summary="Registered sellers")
def admin_list_sellers(
    session: SessionDep,
    settings: SettingsDep,
    x_admin_token: Annotated[str | None, Header()] = None,
) -> list[SellerOut]:
    _check_admin(settings, x_admin_token)
    return [_out(s) for s in list_sellers(session)]


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}
