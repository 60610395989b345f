"""psycopg's pipeline mode under SQLAlchemy: one round trip for the statements nobody reads.

In pipeline mode psycopg sends a statement and returns at once; its result arrives with the
next synchronisation. SQLAlchemy reads a statement's columns right after executing it, so a
statement whose rows are read must be synchronised first: :func:`sync_reads` does that after
every statement except INSERT, UPDATE and DELETE without RETURNING, which then travel with the
next one (or with COMMIT). Installed on an engine by :func:`install`, it acts only while the
connection is in pipeline mode (``UnitOfWork.pipelined``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event


def sync_reads(
    conn: Any, cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
) -> None:
    """After a statement whose rows will be read, wait for them (in pipeline mode only)."""
    pipeline = getattr(cursor.connection, "_pipeline", None)
    if pipeline is None:
        return
    compiled = getattr(context, "compiled", None)
    writes = context is not None and context.isinsert | context.isupdate | context.isdelete
    if writes and (compiled is None or not compiled.effective_returning):
        return  # a write whose result nobody reads: it goes with the next sync
    pipeline.sync()


def install(engine: Engine) -> None:
    """Idempotent: add :func:`sync_reads` to the engine's statement events once."""
    if not event.contains(engine, "after_cursor_execute", sync_reads):
        event.listen(engine, "after_cursor_execute", sync_reads)
