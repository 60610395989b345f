"""The admin's pages for money: transport accounts, refunds and monthly passes.

Each action calls billing's service as the CLI does, with the admin as the actor, and leaves an
audit entry. A refund or a pass sale carries the request id the form was rendered with, so a
double submit (or a reload of the answer) refunds or sells once, as billing guarantees by key.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from billing import services
from billing.adapters import orm as b
from billing.domain.model import DomainError
from billing.domain.plates import plate_key
from gateway.api import queries
from gateway.api.schemas import IdPath
from gateway.auth.audit import record
from gateway.deps import SessionDep, UowDep, release
from gateway.web.admin import back, done_code
from gateway.web.rendering import render
from gateway.web.search import PAGE_SIZE
from gateway.web.session import AdminPage

router = APIRouter(prefix="/admin")

STATUSES = ("active", "suspended", "closed")
REFUNDABLE = ("fare", "pass")


def new_request_id() -> str:
    return uuid.uuid4().hex


# ------------------------------------------------------------------ accounts


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(
    request: Request,
    user: AdminPage,
    uow: UowDep,
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Accounts by name, tax code or plate; a page more is fetched to know there is one."""
    found = services.list_accounts(
        uow, search=q.strip() or None, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "admin/accounts.html",
        user,
        nav="admin-accounts",
        accounts=found[:PAGE_SIZE],
        more=len(found) > PAGE_SIZE,
        q=q.strip(),
        page=page,
    )


def _account_page(
    request: Request,
    user: AdminPage,
    uow: UowDep,
    account_id: int,
    *,
    done: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    account = services.get_account(uow, account_id)
    if account is None:
        raise HTTPException(404, "no such account")
    return render(
        request,
        "admin/account.html",
        user,
        status_code=status_code,
        nav="admin-accounts",
        account=account,
        statement=services.account_statement(uow, account_id, limit=PAGE_SIZE),
        statuses=STATUSES,
        refundable=REFUNDABLE,
        done=done_code(done),
        error=error,
    )


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    account_id: IdPath, request: Request, user: AdminPage, uow: UowDep, done: str | None = None
) -> HTMLResponse:
    return _account_page(request, user, uow, account_id, done=done)


@router.post("/accounts/{account_id}/status", response_model=None)
def account_status(
    account_id: IdPath,
    request: Request,
    session: SessionDep,
    admin: AdminPage,
    uow: UowDep,
    status: Annotated[str, Form(max_length=12)],
) -> Response:
    """Suspend, re-activate or close an account (closing frees its plates)."""
    if status not in STATUSES:
        return _account_page(request, admin, uow, account_id, error="bad_status", status_code=422)
    release(session)
    try:
        services.set_account_status(uow, account_id, status)
    except (DomainError, LookupError) as exc:
        return _account_page(request, admin, uow, account_id, error=str(exc), status_code=422)
    record(session, admin, "account.status", "account", account_id, {"status": status})
    return back(f"/admin/accounts/{account_id}", "status_changed")


# ------------------------------------------------------------------ refunds


def _recent_refunds(session: SessionDep, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Refund entries, newest first, with the amount given back to the prepaid balance."""
    prepaid = (
        select(
            b.JournalLine.entry_id,
            func.sum(b.JournalLine.amount_vnd).label("amount"),
        )
        .where(b.JournalLine.ledger_account.like("liability:prepaid:%"))
        .group_by(b.JournalLine.entry_id)
        .subquery()
    )
    rows = session.execute(
        select(b.JournalEntry, prepaid.c.amount)
        .join(prepaid, prepaid.c.entry_id == b.JournalEntry.id)
        .where(b.JournalEntry.kind == "refund")
        .order_by(b.JournalEntry.id.desc())
        .limit(limit)
    )
    return [{"entry": entry, "amount_vnd": -int(amount or 0)} for entry, amount in rows]


def _refunds_page(
    request: Request,
    session: SessionDep,
    user: AdminPage,
    *,
    entry: int | None = None,
    done: str | None = None,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    original = session.get(b.JournalEntry, entry) if entry else None
    return render(
        request,
        "admin/refunds.html",
        user,
        status_code=status_code,
        nav="admin-refunds",
        refunds=_recent_refunds(session),
        original=original if original is not None and original.kind in REFUNDABLE else None,
        entry=entry,
        request_id=(form or {}).get("request_id") or new_request_id(),
        form=form or {},
        done=done_code(done),
        error=error,
    )


@router.get("/refunds", response_class=HTMLResponse)
def refunds_page(
    request: Request,
    session: SessionDep,
    user: AdminPage,
    entry: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    done: str | None = None,
) -> HTMLResponse:
    return _refunds_page(request, session, user, entry=entry, done=done)


@router.post("/refunds", response_model=None)
def refund(
    request: Request,
    session: SessionDep,
    admin: AdminPage,
    uow: UowDep,
    journal_entry_id: Annotated[int, Form(ge=1, le=2_147_483_647)],
    reason: Annotated[str, Form(min_length=1, max_length=300)],
    request_id: Annotated[str, Form(min_length=8, max_length=100)],
    amount_vnd: Annotated[str, Form(max_length=14)] = "",
) -> Response:
    """Refund a fare or a pass, in part or in full: a reversing entry and an adjusting invoice."""
    form = {"reason": reason, "amount_vnd": amount_vnd, "request_id": request_id}
    amount_text = amount_vnd.replace(".", "").replace(" ", "").strip()
    if amount_text and not (amount_text.isdigit() and int(amount_text) > 0):
        return _refunds_page(
            request, session, admin, entry=journal_entry_id, error="bad_amount",
            form=form, status_code=422,
        )  # fmt: skip
    release(session)
    try:
        result = services.refund(
            uow,
            journal_entry_id,
            key=request_id,
            reason=reason.strip(),
            actor=admin.username,
            amount_vnd=int(amount_text) if amount_text else None,
        )
    except DomainError as exc:
        return _refunds_page(
            request, session, admin, entry=journal_entry_id, error=str(exc),
            form=form, status_code=422,
        )  # fmt: skip
    if result.created:
        record(
            session,
            admin,
            "refund",
            "journal_entry",
            journal_entry_id,
            {
                "request_id": request_id,
                "refund_entry_id": result.journal_entry_id,
                "amount_vnd": result.amount_vnd,
                "reason": reason.strip(),
            },
        )
    return back("/admin/refunds", "refund_done")


# ------------------------------------------------------------------ monthly passes


def _passes_page(
    request: Request,
    session: SessionDep,
    user: AdminPage,
    uow: UowDep,
    *,
    lot_id: str = "",
    done: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lots = queries.visible_lots(session, user)
    release(session)
    return render(
        request,
        "admin/passes.html",
        user,
        status_code=status_code,
        nav="admin-passes",
        lots=lots,
        lot_id=lot_id,
        passes=services.list_passes(uow, lot_id=lot_id or None, limit=PAGE_SIZE),
        request_id=(form or {}).get("request_id") or new_request_id(),
        form=form or {},
        today=date.today(),
        done=done_code(done),
        error=error,
    )


@router.get("/passes", response_class=HTMLResponse)
def passes_page(
    request: Request,
    session: SessionDep,
    user: AdminPage,
    uow: UowDep,
    lot_id: Annotated[str, Query(max_length=40)] = "",
    done: str | None = None,
) -> HTMLResponse:
    return _passes_page(request, session, user, uow, lot_id=lot_id, done=done)


@router.post("/passes", response_model=None)
def sell_pass(
    request: Request,
    session: SessionDep,
    admin: AdminPage,
    uow: UowDep,
    plate: Annotated[str, Form(min_length=4, max_length=20)],
    lot_id: Annotated[str, Form(max_length=40)],
    kind: Annotated[str, Form(max_length=12)],
    start: Annotated[str, Form(max_length=10)],
    request_id: Annotated[str, Form(min_length=8, max_length=100)],
) -> Response:
    """Sell a monthly pass from the vehicle's prepaid balance; its e-invoice follows."""
    form = {"plate": plate, "lot_id": lot_id, "kind": kind, "start": start}
    form["request_id"] = request_id

    def refused(code: str) -> HTMLResponse:
        return _passes_page(request, session, admin, uow, error=code, form=form, status_code=422)

    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        return refused("bad_date")
    key = plate_key(plate)
    vehicle = next((v for v in services.list_vehicles(uow) if v.plate_key == key), None)
    if vehicle is None:
        return refused("unknown_plate_admin")
    release(session)
    try:
        pass_id = services.buy_monthly_pass(uow, vehicle.id, lot_id, kind, first_day, request_id)
    except (DomainError, LookupError, ValueError) as exc:
        return refused(str(exc))
    record(
        session,
        admin,
        "pass.sell",
        "pass",
        pass_id,
        {"request_id": request_id, "plate": vehicle.plate, "lot_id": lot_id, "kind": kind},
    )
    return back("/admin/passes", "pass_sold")
