"""The gateway's audit log (who signed in, reviewed, topped up, granted): admins read it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from gateway.api.queries import page
from gateway.api.schemas import AUTH_ERRORS, Page, PagingDep
from gateway.deps import AdminUser, SessionDep
from gateway.orm import AuditEntry

router = APIRouter(tags=["audit"], responses=AUTH_ERRORS)


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    user_id: int | None
    username: str
    action: str
    target_kind: str
    target_id: str
    detail: dict[str, Any]


@router.get("/audit", response_model=Page[AuditEntryOut])
def audit_log(
    session: SessionDep,
    _admin: AdminUser,
    paging: PagingDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_kind: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    username: Annotated[str | None, Query(max_length=120)] = None,
) -> Page[AuditEntryOut]:
    """Newest first, filtered by action, target or person."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if target_kind:
        stmt = stmt.where(AuditEntry.target_kind == target_kind)
    if target_id:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    if username:
        stmt = stmt.where(AuditEntry.username == username.lower())
    window = page(session, stmt, paging.limit, paging.offset)
    return Page(
        items=[AuditEntryOut.model_validate(e) for e in window.items],
        total=window.total,
        limit=paging.limit,
        offset=paging.offset,
    )
