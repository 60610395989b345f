"""Bearer tokens for API clients, and who the caller is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, status
from pydantic import BaseModel

from gateway.api.schemas import AUTH_ERRORS
from gateway.auth.audit import record
from gateway.auth.tokens import API_TOKEN_MAX_AGE_S
from gateway.auth.users import authenticate, principal_for
from gateway.deps import CurrentUser, SessionDep, SignerDep

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
    responses={401: {"description": "wrong username or password"}},
)
def issue_token(
    session: SessionDep,
    signer: SignerDep,
    username: Annotated[str, Form(min_length=1, max_length=120)],
    password: Annotated[str, Form(min_length=1, max_length=512)],
) -> TokenOut:
    """OAuth2 password-style form (``username``, ``password``) in, bearer token out."""
    user = authenticate(session, username, password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
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
