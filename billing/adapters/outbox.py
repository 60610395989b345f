"""The transactional outbox: rows written in the settle transaction, taken by workers after commit.

A row is one of billing's events (billing.domain.events): its kind, its key (unique per kind)
and its payload as JSON.

Workers on PostgreSQL take rows with ``FOR UPDATE SKIP LOCKED`` so several of them share the
queue without taking the same row; on SQLite the writer lock already serializes them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal_column, select, update
from sqlalchemy.orm import Session

from billing.adapters.orm import OutboxRow, table_of, utcnow
from billing.adapters.sql import insert_rows
from billing.domain.events import (
    AUTO_TOPUP_REQUEST,
    BARRIER_COMMAND,
    INVOICE_ADJUSTMENT,
    INVOICE_REQUEST,
    LOW_BALANCE_NOTICE,
    OutboxEvent,
)

log = logging.getLogger(__name__)

__all__ = [
    "AUTO_TOPUP_REQUEST",
    "BARRIER_COMMAND",
    "INVOICE_ADJUSTMENT",
    "INVOICE_REQUEST",
    "LOW_BALANCE_NOTICE",
    "add",
    "add_many",
    "claim",
    "claim_rows",
    "insert_params",
    "insert_statement",
    "mark_failed",
    "mark_processed",
    "mark_processed_many",
    "pending",
]


@functools.cache
def insert_statement(n: int) -> Any:
    """``n`` rows in one cacheable INSERT (an executemany costs a statement per row on the
    server); no RETURNING of the new ids, which nobody reads."""
    table = table_of(OutboxRow)
    return insert_rows(
        table,
        n,
        ("kind", "key", "payload"),
        {
            # not "created_at", a column of other tables: see statements.q_finish
            "created_at": bindparam("outbox_created_at", type_=table.c.created_at.type),
            "attempts": literal_column("0"),
        },
    )


def add(session: Session | Connection, event: OutboxEvent) -> None:
    """Queue one event in the caller's transaction (unique per kind and key)."""
    add_many(session, [event])


def add_many(session: Session | Connection, events: Sequence[OutboxEvent]) -> None:
    """Queue several events with one statement, in the order given."""
    if not events:
        return
    session.execute(insert_statement(len(events)), insert_params(events))


def insert_params(events: Sequence[OutboxEvent]) -> dict[str, Any]:
    """The parameters of ``insert_statement(len(events))`` for these events."""
    params: dict[str, Any] = {"outbox_created_at": utcnow()}
    for i, event in enumerate(events):
        params[f"kind_{i}"], params[f"key_{i}"] = event.kind, event.key
        params[f"payload_{i}"] = event.to_payload()
    return params


def claim(session: Session, kind: str, limit: int = 10) -> list[OutboxRow]:
    """Lock up to ``limit`` unprocessed rows of ``kind``, oldest first, skipping locked ones.

    Call inside a transaction and mark each row processed (or failed) before committing.
    """
    stmt = (
        select(OutboxRow)
        .where(OutboxRow.kind == kind, OutboxRow.processed_at.is_(None))
        .order_by(OutboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


@functools.cache
def _q_claim_rows() -> Any:
    t = table_of(OutboxRow).c
    return (
        select(t.id, t.key, t.payload)
        .where(
            t.kind == bindparam("kind"),
            t.processed_at.is_(None),
        )
        .order_by(t.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )


def claim_rows(session: Session, kind: str, limit: int = 10) -> Sequence[Any]:
    """:func:`claim` without the ORM: rows of (``id``, ``key``, ``payload``), for a worker that
    only reads them and marks them with :func:`mark_processed_many` (the barrier publisher,
    on every passage's path: loading and flushing ORM objects cost it more than the SQL)."""
    return session.connection().execute(_q_claim_rows(), {"kind": kind, "limit": limit}).all()


@functools.cache
def _q_mark_processed_many() -> Any:
    t = table_of(OutboxRow)
    return (
        update(t)
        .where(t.c.id.in_(bindparam("ids", expanding=True)))
        .values(
            processed_at=bindparam("at", type_=t.c.processed_at.type),
            attempts=func.coalesce(t.c.attempts, 0) + 1,
        )
    )


def mark_processed_many(session: Session, row_ids: Sequence[int]) -> None:
    """:func:`mark_processed` for many rows in one statement (rows claimed by ``claim_rows``)."""
    if row_ids:
        session.connection().execute(
            _q_mark_processed_many(), {"ids": list(row_ids), "at": utcnow()}
        )


def mark_processed(session: Session, row_id: int) -> None:
    row = session.get(OutboxRow, row_id)
    if row is None:
        raise LookupError(f"outbox row {row_id} does not exist")
    row.processed_at = utcnow()
    row.attempts = (row.attempts or 0) + 1


def mark_failed(session: Session, row_id: int, error: str) -> None:
    """Keep the row pending, count the attempt and remember why it failed."""
    row = session.get(OutboxRow, row_id)
    if row is None:
        raise LookupError(f"outbox row {row_id} does not exist")
    row.attempts = (row.attempts or 0) + 1
    row.last_error = error[:2000]
    log.warning("outbox %s %s failed (attempt %d): %s", row.kind, row.key, row.attempts, error)


def pending(session: Session, kind: str | None = None) -> int:
    stmt = select(func.count()).select_from(OutboxRow).where(OutboxRow.processed_at.is_(None))
    if kind is not None:
        stmt = stmt.where(OutboxRow.kind == kind)
    return int(session.scalar(stmt) or 0)
