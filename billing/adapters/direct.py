"""The settlement's hot statements, run on the driver's cursor of the unit of work's connection.

Settlement on PostgreSQL runs two statements per passage (``statements.q_insert_and_look_up``
and ``statements.q_finish``), each with 20 to 45 parameters. Through ``Connection.execute``,
SQLAlchemy's per-execution work (the compiled cache's key, the parameters built and processed,
an execution context, the result's metadata) cost more CPU than the driver's (issue 14). Here a
statement is compiled once per dialect, and each execution only processes its parameters with
the same type processors SQLAlchemy would apply (UTC times, JSON) and hands the SQL to the
driver's cursor, in the connection's transaction.

What stays SQLAlchemy's: the connection, its pool and transaction, and the handling of a
driver error (the same ``sqlalchemy.exc`` exception, ``handle_error`` events, a lost
connection invalidated), so callers catch and retry exactly as before. What these statements
skip: ``before_cursor_execute`` / ``after_cursor_execute`` events and echo logging. Rows come
back as named tuples (attribute access by column label, as SQLAlchemy's rows), with the result
types' processors applied.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

_Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class DriverForm:
    """A statement as the driver takes it."""

    sql: str
    fixed: Mapping[str, Any]  # parameters with a value of their own (LIMIT 1, literals)
    bind_processors: tuple[tuple[str, _Processor], ...]
    result_processors: tuple[tuple[str, _Processor], ...]  # by column label
    row: Any  # a named tuple of the result's column labels; None: no rows


_ROW_CLASS: Any = namedtuple  # rows of labels known only when the statement is compiled
_FORMS: dict[tuple[int, str, Any], tuple[ClauseElement, DriverForm]] = {}
_FORMS_LOCK = threading.Lock()


def driver_form(stmt: ClauseElement, dialect: Dialect) -> DriverForm:
    """``stmt`` compiled for ``dialect``, once (statements are built once: ``functools.cache``)."""
    key = (id(stmt), dialect.name, dialect.server_version_info)
    found = _FORMS.get(key)
    if found is not None and found[0] is stmt:
        return found[1]
    compiled: Any = stmt.compile(dialect=dialect)
    if compiled.insert_prefetch or compiled.update_prefetch:
        # Python-side column defaults are computed by SQLAlchemy's execution context
        raise ValueError("a statement with Python-side column defaults: use Connection.execute")
    fixed, binds = {}, []
    # each parameter once, typed as SQLAlchemy types it (the first of the name it compiled): a
    # name used twice in the statement is still one parameter, processed once
    for name in dict.fromkeys(compiled.bind_names.values()):
        bp = compiled.binds[name]
        if not bp.required:
            fixed[name] = bp.effective_value
        processor = bp.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            binds.append((name, processor))
    results = []
    row: Any = None
    # a SELECT's columns, an INSERT's or UPDATE's RETURNING (none: no rows)
    selected = list(getattr(stmt, "exported_columns", ()))
    if selected:
        row = _ROW_CLASS("Row", [column.key for column in selected])
        for column in selected:
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                results.append((column.key, processor))
    form = DriverForm(compiled.string, fixed, tuple(binds), tuple(results), row)
    with _FORMS_LOCK:
        _FORMS[key] = (stmt, form)
    return form


def execute(db: Connection, stmt: ClauseElement, params: Mapping[str, Any]) -> Any:
    """Run ``stmt`` with ``params`` in ``db``'s transaction; its first row (a named tuple, or
    None), or None for a statement that returns no rows. Parameters ``stmt`` does not use are
    ignored, as by ``Connection.execute``."""
    form = driver_form(stmt, db.dialect)
    values = {**form.fixed, **params}
    for name, processor in form.bind_processors:
        if name in values:
            values[name] = processor(values[name])
    cursor = None
    try:
        # Connection.connection revalidates an invalidated connection, or refuses to inside a
        # transaction that must be rolled back first, as Connection.execute does.
        driver: Any = db.connection.driver_connection
        cursor = driver.cursor()
        cursor.execute(form.sql, values)
        found = cursor.fetchone() if form.row is not None else None
    except BaseException as exc:
        # SQLAlchemy's own handling of a driver error: wrapped the same way, handle_error
        # events, a lost connection invalidated (then exc.connection_invalidated is true)
        db._handle_dbapi_exception(exc, form.sql, values, cursor, None)
    finally:
        if cursor is not None:
            cursor.close()
    if found is None:
        return None
    row = form.row._make(found)
    if form.result_processors:
        row = row._replace(**{key: proc(getattr(row, key)) for key, proc in form.result_processors})
    return row
