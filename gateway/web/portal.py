"""What every driver page shares: the signed-in driver's account, the unread-notice badge in the
menu, and rendering with both."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.auth.principal import Principal
from gateway.orm import Notice
from gateway.web.rendering import render


def account_id_of(user: Principal) -> int:
    if user.account_id is None:
        raise HTTPException(403, "no transport account is linked to this sign-in")
    return int(user.account_id)


def unread_notices(session: Session, account_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notice)
            .where(Notice.account_id == str(account_id), Notice.read_at.is_(None))
        )
        or 0
    )


def render_portal(
    request: Request,
    session: Session,
    user: Principal,
    template: str,
    nav: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    counts = {"notices": unread_notices(session, account_id_of(user))}
    return render(
        request, template, user, status_code=status_code, nav=nav, nav_counts=counts, **context
    )


def back(path: str, *, msg: str | None = None, err: str | None = None) -> RedirectResponse:
    """Post/redirect/get with a catalogue code for the banner (never text)."""
    query = f"?msg={msg}" if msg else f"?err={err}" if err else ""
    return RedirectResponse(path + query, status_code=303)
