"""The admin's pages for people and oversight: users and grants, the audit log, reconciliation.

What only the CLI and the API could do before. Every change goes through the same services as
``parking users ...`` and is written to the audit log under the admin's name. Messages in the
URL are codes from the catalogue, never text.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from gateway.api import queries
from gateway.api.reconciliation import reconcile_day
from gateway.api.reports import today_local
from gateway.auth import users as user_service
from gateway.deps import SessionDep, SessionFactoryDep, UowDep, release
from gateway.orm import AuditEntry
from gateway.web.rendering import render
from gateway.web.search import PAGE_SIZE, Pager, Search
from gateway.web.session import AdminPage

router = APIRouter(prefix="/admin")

# Outcome codes a redirect may carry (anything else in ?done= is ignored).
DONE = frozenset({"user_created", "grant_added", "refund_done", "pass_sold", "status_changed"})


def done_code(done: str | None) -> str | None:
    return done if done in DONE else None


def back(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


@router.get("", response_class=HTMLResponse)
def admin_home() -> RedirectResponse:
    return RedirectResponse("/admin/users", status_code=303)


# ------------------------------------------------------------------ users and grants


def _users_page(
    request: Request,
    session: SessionDep,
    user: AdminPage,
    *,
    done: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "admin/users.html",
        user,
        status_code=status_code,
        nav="admin-users",
        users=user_service.list_users(session),
        lots=queries.visible_lots(session, user),
        done=done_code(done),
        error=error,
        form=form or {},
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, session: SessionDep, user: AdminPage, done: str | None = None
) -> HTMLResponse:
    return _users_page(request, session, user, done=done)


@router.post("/users", response_model=None)
def create_user(
    request: Request,
    session: SessionDep,
    admin: AdminPage,
    username: Annotated[str, Form(max_length=120)],
    role: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=512)],
    display_name: Annotated[str, Form(max_length=200)] = "",
    account_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    account = account_id.strip() or None
    form = {"username": username, "role": role, "display_name": display_name}
    if account is not None and not account.isdigit():
        return _users_page(request, session, admin, error="bad_account", form=form, status_code=422)
    try:
        user_service.create_user(
            session,
            username,
            password,
            role,
            display_name=display_name.strip(),
            account_id=account,
            actor=admin,
        )
    except user_service.UserError as exc:
        session.rollback()
        return _users_page(request, session, admin, error=str(exc), form=form, status_code=422)
    return back("/admin/users", "user_created")


@router.post("/users/{username}/grants", response_model=None)
def add_grant(
    username: str,
    request: Request,
    session: SessionDep,
    admin: AdminPage,
    lot_id: Annotated[str, Form(max_length=64)] = "",
    company: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        user_service.grant(
            session,
            username,
            lot_id=lot_id.strip() or None,
            company=company.strip() or None,
            actor=admin,
        )
    except user_service.UserError as exc:
        session.rollback()
        return _users_page(request, session, admin, error=str(exc), status_code=422)
    return back("/admin/users", "grant_added")


# ------------------------------------------------------------------ audit log


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    user: AdminPage,
    action: Annotated[str, Query(max_length=64)] = "",
    username: Annotated[str, Query(max_length=120)] = "",
    target: Annotated[str, Query(max_length=64)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Who did what, newest first, by action, person or target (an id or ``kind:id``)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if username.strip():
        stmt = stmt.where(AuditEntry.username == username.strip().lower())
    kind, _, ident = target.strip().rpartition(":")
    if ident:
        stmt = stmt.where(AuditEntry.target_id == ident)
    if kind:
        stmt = stmt.where(AuditEntry.target_kind == kind)
    search = Search(page=page)
    window = queries.page(session, stmt, PAGE_SIZE, search.offset)
    actions = session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    params = {k: v for k, v in {"action": action, "username": username, "target": target}.items()}
    return render(
        request,
        "admin/audit.html",
        user,
        nav="admin-audit",
        entries=window.items,
        actions=list(actions),
        action=action,
        username=username,
        target=target,
        search=search,
        pager=Pager.of(search, window.total),
        extra={k: v for k, v in params.items() if v},
    )


# ------------------------------------------------------------------ reconciliation


@router.get("/reconciliation", response_class=HTMLResponse)
def reconciliation_page(
    request: Request,
    session: SessionDep,
    factory: SessionFactoryDep,
    user: AdminPage,
    uow: UowDep,
    day: Annotated[str, Query(max_length=10)] = "",
    lot_id: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """A local day's figures per lot and every mismatch, as ``parking reconcile`` prints."""
    lots = queries.visible_lots(session, user)
    names = {lot.id: lot.name for lot in lots}
    wanted = [lot_id] if lot_id in names else list(names)
    try:
        on = date.fromisoformat(day) if day else today_local()
        error = None
    except ValueError:
        on, error = today_local(), "bad_date"
    result: Any = reconcile_day(session, factory, uow, wanted, on)
    release(session)
    return render(
        request,
        "admin/reconciliation.html",
        user,
        nav="admin-reconciliation",
        lots=lots,
        lot_id=lot_id if lot_id in names else "",
        lot_names=names,
        day=on,
        error=error,
        result=result,
    )
