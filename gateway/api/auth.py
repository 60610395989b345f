"""Bearer tokens for API clients, and who the caller is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.api.schemas import AUTH_ERRORS, Problem
from gateway.auth import sign_in
from gateway.auth.audit import record
from gateway.auth.tokens import API_TOKEN_MAX_AGE_S
from gateway.auth.users import principal_for
from gateway.deps import CurrentUser, SessionDep, SignerDep, ThrottleDep, client_address

router = APIRouter(tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


class MeOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: str
    account_id: str | None
    lot_ids: list[str]
    companies: list[str]


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses={
        401: {"model": Problem, "description": "wrong username or password"},
        429: {
            "model": Problem,
            "description": "too many failed sign-ins for this user or address: wait Retry-After "
            "seconds (the wait doubles with each further failure)",
        },
    },
)
def issue_token(
    request: Request,
    session: SessionDep,
    signer: SignerDep,
    throttle: ThrottleDep,
    username: Annotated[str, Form(min_length=1, max_length=120)],
    password: Annotated[str, Form(min_length=1, max_length=512)],
) -> TokenOut | JSONResponse:
    """OAuth2 password-style form (``username``, ``password``) in, bearer token out."""
    # Answers, not exceptions: the audit rows of a refusal must be committed with the request.
    attempt = sign_in.attempt(
        session, throttle, username, password, address=client_address(request), via="api"
    )
    if attempt.verdict.blocked:
        return JSONResponse(
            {"detail": "too many failed sign-ins: try again later"},
            status_code=429,
            headers={"Retry-After": attempt.verdict.retry_after_header},
        )
    user = attempt.user
    if user is None:
        return JSONResponse(
            {"detail": "wrong username or password"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    record(session, principal_for(session, user), "auth.token", "user", user.id)
    return TokenOut(
        access_token=signer.issue("api", user.id, user.password_hash),
        expires_in=API_TOKEN_MAX_AGE_S,
        role=user.role,
    )


@router.get("/me", response_model=MeOut, responses=AUTH_ERRORS)
def me(user: CurrentUser) -> MeOut:
    return MeOut(
        user_id=user.user_id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        account_id=user.account_id,
        lot_ids=sorted(user.lot_ids),
        companies=sorted(user.companies),
    )
