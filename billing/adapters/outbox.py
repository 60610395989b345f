"""The transactional outbox: rows written in the settle transaction, taken by workers after commit.

Workers on PostgreSQL take rows with ``FOR UPDATE SKIP LOCKED`` so several of them share the
queue without taking the same row; on SQLite the writer lock already serializes them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal_column, select
from sqlalchemy.orm import Session

from billing.adapters.orm import OutboxRow, table_of, utcnow
from billing.adapters.sql import insert_rows

log = logging.getLogger(__name__)

BARRIER_COMMAND = "barrier_command"
INVOICE_REQUEST = "invoice_request"
INVOICE_ADJUSTMENT = "invoice_adjustment"
LOW_BALANCE_NOTICE = "low_balance_notice"
AUTO_TOPUP_REQUEST = "auto_topup_request"


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


def add(session: Session, kind: str, key: str, payload: dict[str, Any]) -> None:
    """Queue one message in the caller's transaction (unique per kind and key)."""
    add_many(session, [(kind, key, payload)])


def add_many(
    session: Session | Connection, rows: Sequence[tuple[str, str, dict[str, Any]]]
) -> None:
    """Queue several messages with one statement, in the order given."""
    if not rows:
        return
    session.execute(insert_statement(len(rows)), insert_params(rows))


def insert_params(rows: Sequence[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    """The parameters of ``insert_statement(len(rows))`` for these rows."""
    params: dict[str, Any] = {"outbox_created_at": utcnow()}
    for i, (kind, key, payload) in enumerate(rows):
        params[f"kind_{i}"], params[f"key_{i}"], params[f"payload_{i}"] = kind, key, payload
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
