"""The driver portal's history: statement with a running balance, trips linked to their
invoices, the invoices themselves, and the inbox of notices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from billing.adapters import orm as b
from gateway.api import queries
from gateway.api.evidence import EvidenceOut, evidence_view
from gateway.api.invoices import rejection_reasons
from gateway.api.schemas import IdPath
from gateway.api.statement import invoice_ids, statement, trip_event_ids
from gateway.deps import PrimarySessionDep, SessionDep, SettingsDep
from gateway.invoice_links import lookup_link, public_base
from gateway.orm import Notice, NoticeDelivery
from gateway.web.portal import account_id_of, render_portal
from gateway.web.session import DriverPage

router = APIRouter(prefix="/portal")

PAGE = 20
PageNo = Annotated[int, Query(ge=0, le=100_000)]


@dataclass(frozen=True)
class TripCard:
    trip: Any  # billing's ParkingSession row
    lot_name: str
    invoice_id: int | None
    minutes: int | None
    evidence: EvidenceOut | None = None  # why the exit was matched to this car, if it was


def trip_cards(session: Session, trips: Sequence[Any]) -> list[TripCard]:
    lots = {lot.id: lot.name for lot in queries.all_lots(session)}
    events = trip_event_ids(session, [t.exit_passage_id for t in trips])
    exit_ids = [t.exit_passage_id for t in trips if t.exit_passage_id]
    evidence = {}
    if exit_ids:
        exits = session.scalars(
            select(b.Passage).where(
                b.Passage.id.in_(exit_ids), b.Passage.match_evidence.is_not(None)
            )
        )
        evidence = {row.id: evidence_view(row, driver=True) for row in exits}
    invoices = invoice_ids(session, events.values())
    out = []
    for t in trips:
        event = events.get(t.exit_passage_id or 0)
        minutes = None
        if t.exit_at is not None and t.entry_at is not None:
            minutes = int((t.exit_at - t.entry_at).total_seconds() // 60)
        out.append(
            TripCard(
                t,
                lots.get(t.lot_id, t.lot_id),
                invoices.get(event or ""),
                minutes,
                evidence.get(t.exit_passage_id or 0),
            )
        )
    return out


@router.get("/statement", response_class=HTMLResponse)
def statement_page(
    request: Request, session: SessionDep, user: DriverPage, page: PageNo = 0
) -> HTMLResponse:
    st = statement(session, account_id_of(user), PAGE, PAGE * page)
    lots = {lot.id: lot.name for lot in queries.all_lots(session)}
    return render_portal(
        request,
        session,
        user,
        "driver/statement.html",
        "statement",
        lines=st.lines,
        total=st.total,
        page=page,
        more=PAGE * (page + 1) < st.total,
        lots=lots,
    )


@router.get("/trips", response_class=HTMLResponse)
def trips_page(
    request: Request, session: SessionDep, user: DriverPage, page: PageNo = 0
) -> HTMLResponse:
    window = queries.sessions(
        session, None, account_id=account_id_of(user), limit=PAGE, offset=PAGE * page
    )
    return render_portal(
        request,
        session,
        user,
        "driver/trips.html",
        "trips",
        trips=trip_cards(session, window.items),
        total=window.total,
        page=page,
        more=PAGE * (page + 1) < window.total,
    )


def _qr(settings: Any, request: Request, lookup_code: str | None) -> tuple[str, str]:
    """The invoice's public lookup address (``PARKING_PUBLIC_URL``) and its QR code."""
    from einvoice.render import qr_svg

    url = lookup_link(public_base(settings, request), lookup_code)
    return url, qr_svg(url) if url else ""


@router.get("/invoices", response_class=HTMLResponse)
def invoices_page(
    request: Request, session: SessionDep, user: DriverPage, settings: SettingsDep
) -> HTMLResponse:
    from einvoice import queries as inv
    from einvoice.monthly import period_label, waiting

    account = str(account_id_of(user))
    items = inv.list_invoices(session, account_id=account, limit=100)
    months: dict[str, list[int]] = {}
    for row in waiting(session, account):
        months.setdefault(row.period, []).append(int(row.total_vnd))
    return render_portal(
        request,
        session,
        user,
        "driver/invoices.html",
        "invoices",
        invoices=items,
        reasons=_reasons(session, items),
        waiting=[(period_label(p), len(v), sum(v)) for p, v in sorted(months.items())],
    )


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
def invoice_page(
    invoice_id: IdPath,
    request: Request,
    session: SessionDep,
    user: DriverPage,
    settings: SettingsDep,
) -> HTMLResponse:
    from einvoice import queries as inv

    detail = inv.get_invoice(session, invoice_id)
    if detail is None or detail.invoice.buyer_account_id != str(account_id_of(user)):
        # Someone else's invoice and no invoice at all look the same.
        raise HTTPException(404, "not_found")
    item = detail.invoice
    return render_portal(
        request,
        session,
        user,
        "driver/invoice.html",
        "invoices",
        i=item,
        qr=_qr(settings, request, item.lookup_code),
        reasons=_reasons(session, [item]),
    )


def _reasons(session: Session, items: Sequence[Any]) -> dict[int, list[Any]]:
    from einvoice import queries as inv

    out = {}
    for item in items:
        if item.status == "rejected":
            detail = inv.get_invoice(session, item.id)
            out[item.id] = rejection_reasons(detail) if detail else []
    return out


@router.get("/notices", response_class=HTMLResponse)
def notices_page(
    # the primary even beside a replica: opening the page marks its notices read
    request: Request,
    session: PrimarySessionDep,
    user: DriverPage,
    page: PageNo = 0,
) -> HTMLResponse:
    account = str(account_id_of(user))
    window = queries.page(
        session,
        select(Notice).where(Notice.account_id == account).order_by(Notice.id.desc()),
        PAGE,
        PAGE * page,
    )
    ids = [n.id for n in window.items]
    deliveries: dict[int, list[NoticeDelivery]] = {i: [] for i in ids}
    if ids:
        for d in session.scalars(
            select(NoticeDelivery)
            .where(NoticeDelivery.notice_id.in_(ids), NoticeDelivery.channel != "push")
            .order_by(NoticeDelivery.id)
        ):
            deliveries[d.notice_id].append(d)
    unread = {n.id for n in window.items if n.read_at is None}
    response = render_portal(
        request,
        session,
        user,
        "driver/notices.html",
        "notices",
        notices=window.items,
        deliveries=deliveries,
        unread=unread,
        total=window.total,
        page=page,
        more=PAGE * (page + 1) < window.total,
    )
    if unread:  # seen now; the badge goes on the next page
        session.execute(
            update(Notice).where(Notice.id.in_(unread)).values(read_at=datetime.now(UTC))
        )
    return response
