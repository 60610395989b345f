"""Admin-only user management (the CLI does the same: ``parking users ...``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field, model_validator

from gateway.api.access import AccessFirstRoute
from gateway.api.schemas import AUTH_ERRORS, conflict, not_found
from gateway.auth import users as user_service
from gateway.deps import AdminUser, SessionDep

router = APIRouter(tags=["users"], responses=AUTH_ERRORS, route_class=AccessFirstRoute)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    account_id: str | None
    active: bool
    lots: list[str]
    companies: list[str]


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=8, max_length=512)
    role: Literal["driver", "operator", "admin"]
    display_name: str = Field(default="", max_length=200)
    account_id: str | None = Field(default=None, max_length=64)


class GrantIn(BaseModel):
    lot_id: str | None = Field(default=None, max_length=64)
    company: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_scope(self) -> GrantIn:
        if self.lot_id is None and self.company is None:
            raise ValueError("give lot_id or company")
        return self


def _out(s: user_service.UserSummary) -> UserOut:
    return UserOut(
        id=s.id,
        username=s.username,
        display_name=s.display_name,
        role=s.role,
        account_id=s.account_id,
        active=s.active,
        lots=list(s.lots),
        companies=list(s.companies),
    )


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, _admin: AdminUser) -> list[UserOut]:
    return [_out(s) for s in user_service.list_users(session)]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    responses=conflict("username taken, or a rule broken"),
)
def create_user(body: UserIn, session: SessionDep, admin: AdminUser) -> UserOut:
    try:
        user = user_service.create_user(
            session,
            body.username,
            body.password,
            body.role,
            display_name=body.display_name,
            account_id=body.account_id,
            actor=admin,
        )
    except user_service.UserError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    summary = next(s for s in user_service.list_users(session) if s.id == user.id)
    return _out(summary)


@router.post(
    "/users/{username}/grants",
    response_model=UserOut,
    status_code=201,
    responses={**not_found("no such user"), **conflict("only operators get grants")},
)
def grant(username: str, body: GrantIn, session: SessionDep, admin: AdminUser) -> UserOut:
    try:
        user_service.grant(session, username, lot_id=body.lot_id, company=body.company, actor=admin)
    except user_service.UserNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except user_service.UserError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    summary = next(s for s in user_service.list_users(session) if s.username == username.lower())
    return _out(summary)
