"""Sign in, sign out and the language switch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from gateway.auth.audit import record
from gateway.auth.tokens import COOKIE_MAX_AGE_S, COOKIE_NAME
from gateway.auth.users import authenticate, principal_for
from gateway.deps import OptionalUser, SessionDep, SignerDep
from gateway.orm import User
from gateway.web.forms import FormErrors
from gateway.web.i18n import LANGS
from gateway.web.rendering import render

router = APIRouter(include_in_schema=False)


def _safe_next(url: str | None) -> str | None:
    """Only same-site paths: never redirect a fresh sign-in to another host."""
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme or parsed.netloc or not url.startswith("/") or url.startswith("//"):
        return None
    return url


def home_for(role: str) -> str:
    return "/portal" if role == "driver" else "/dashboard"


@router.get("/")
def root(user: OptionalUser) -> RedirectResponse:
    return RedirectResponse("/login" if user is None else home_for(user.role), status_code=303)


@router.get("/login")
def login_form(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next) or home_for(user.role), status_code=303)
    return render(request, "login.html", next=_safe_next(next) or "", errors=FormErrors())


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    signer: SignerDep,
    username: Annotated[str, Form(max_length=120)],
    password: Annotated[str, Form(max_length=512)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    user = authenticate(session, username, password)
    if user is None:
        errors = FormErrors()
        errors.add("password", "bad_login")
        return render(
            request,
            "login.html",
            status_code=401,
            next=_safe_next(next) or "",
            errors=errors,
            username=username,
        )
    principal = principal_for(session, user)
    record(session, principal, "auth.sign_in", "user", user.id)
    return signed_in(request, signer, user, _safe_next(next) or home_for(user.role))


def signed_in(request: Request, signer: SignerDep, user: User, url: str) -> RedirectResponse:
    """A redirect to ``url`` that carries a fresh session cookie for ``user``."""
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        signer.issue("cookie", user.id, user.password_hash),
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response


@router.get("/lang/{code}")
def set_lang(
    code: str, request: Request, session: SessionDep, user: OptionalUser
) -> RedirectResponse:
    """The pages' language (a cookie); a signed-in person's notices follow it too."""
    back = _safe_next(urlparse(request.headers.get("referer", "")).path or None) or "/"
    response = RedirectResponse(back, status_code=303)
    if code in LANGS:
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="lax")
        me = session.get(User, user.user_id) if user is not None else None
        if me is not None:
            me.lang = code
    return response
