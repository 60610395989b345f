"""The audit trail: who did what to which passage, account or user, and when."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auth.principal import Principal
from gateway.orm import AuditEntry


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    target_kind: str,
    target_id: object,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        user_id=actor.user_id if actor else None,
        username=actor.username if actor else "system",
        action=action,
        target_kind=target_kind,
        target_id=str(target_id),
        detail=detail or {},
    )
    session.add(entry)
    session.flush()
    return entry


def trail(
    session: Session,
    *,
    target_kind: str | None = None,
    target_id: object | None = None,
    limit: int = 100,
) -> Sequence[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target_kind is not None:
        stmt = stmt.where(AuditEntry.target_kind == target_kind)
    if target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == str(target_id))
    return session.scalars(stmt).all()
