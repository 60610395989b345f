"""billing.adapters.direct: statements on the driver's cursor behave as through Connection.execute
(the same parameter and result types, the connection's transaction, the same exceptions)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, func, insert, literal_column, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from billing.adapters import direct, orm
from billing.adapters.orm import metadata
from gateway.db import make_engine

pytestmark = pytest.mark.integration

OUTBOX = orm.table_of(orm.OutboxRow)
ICT = timezone(timedelta(hours=7))


@pytest.fixture()
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def add_row() -> Any:
    c = OUTBOX.c
    return (
        insert(OUTBOX)
        .values(
            kind=bindparam("kind", type_=c.kind.type),
            key=bindparam("key", type_=c.key.type),
            payload=bindparam("payload", type_=c.payload.type),
            created_at=bindparam("at", type_=c.created_at.type),
            attempts=literal_column("0"),
        )
        .returning(c.id.label("row_id"), c.created_at, c.payload)
    )


ADD = add_row()
COUNT = select(func.count().label("n")).select_from(OUTBOX)


def test_parameters_and_rows_take_the_column_types(engine: Engine) -> None:
    at = datetime(2026, 11, 23, 9, 30, tzinfo=ICT)
    with engine.begin() as conn:
        row = direct.execute(
            conn, ADD, {"kind": "k", "key": "a", "payload": {"fare": 5}, "at": at, "extra": 1}
        )
        assert row is not None
        assert row.row_id > 0 and row.payload == {"fare": 5}
        assert row.created_at == at and row.created_at.tzinfo == UTC  # UtcDateTime: UTC out
        # what SQLAlchemy reads back is what it would have written itself
        stored = conn.execute(select(OUTBOX.c.payload, OUTBOX.c.created_at)).one()
        assert (stored.payload, stored.created_at) == ({"fare": 5}, at)
        assert direct.execute(conn, COUNT, {}).n == 1
        no_rows = insert(OUTBOX).values(
            kind="x", key="y", payload={}, created_at=func.now(), attempts=0
        )
        assert direct.execute(conn, no_rows, {}) is None
        assert direct.execute(conn, COUNT, {}).n == 2


def test_statements_needing_python_side_defaults_are_refused(engine: Engine) -> None:
    # outbox.created_at has default=utcnow: SQLAlchemy's execution context computes it
    with engine.connect() as conn, pytest.raises(ValueError, match="Python-side column defaults"):
        direct.execute(conn, insert(OUTBOX).values(kind="x", key="y", payload={}), {})


def test_it_runs_in_the_connections_transaction(engine: Engine) -> None:
    at = datetime.now(UTC)
    with engine.connect() as conn:
        conn.begin()
        direct.execute(conn, ADD, {"kind": "k", "key": "gone", "payload": {}, "at": at})
        assert conn.execute(COUNT).scalar_one() == 1
        conn.rollback()
        assert conn.execute(COUNT).scalar_one() == 0


def test_a_driver_error_is_sqlalchemys_exception_and_event(engine: Engine) -> None:
    seen: list[Any] = []
    event.listen(engine, "handle_error", lambda ctx: seen.append(ctx.original_exception))
    params = {"kind": "k", "key": "twice", "payload": {}, "at": datetime.now(UTC)}
    with engine.connect() as conn:
        conn.begin()
        direct.execute(conn, ADD, params)
        with pytest.raises(IntegrityError) as raised:
            direct.execute(conn, ADD, params)
        assert raised.value.orig is not None
        assert getattr(raised.value.orig, "sqlstate", None) == "23505"
        assert not raised.value.connection_invalidated
        assert seen == [raised.value.orig]
        conn.rollback()
        assert conn.execute(COUNT).scalar_one() == 0  # usable again after the rollback


def test_a_lost_connection_is_invalidated(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.begin()
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError) as raised:
            direct.execute(conn, COUNT, {})
        assert raised.value.connection_invalidated
        conn.rollback()
        assert conn.execute(COUNT).scalar_one() == 0  # a new connection from the pool


def test_a_parameter_used_twice_is_processed_once(engine: Engine) -> None:
    c = OUTBOX.c

    def row(key: str) -> Any:
        # a bind parameter of each name per row, as statements built in pieces have them:
        # processed twice, the JSON would be stored as a JSON string of a JSON string
        return select(
            literal_column("'k'"),
            literal_column(f"'{key}'"),
            bindparam("payload", type_=c.payload.type),
            bindparam("at", type_=c.created_at.type),
            literal_column("0"),
        )

    two_rows = insert(OUTBOX).from_select(
        ["kind", "key", "payload", "created_at", "attempts"], row("one").union_all(row("two"))
    )
    statement = two_rows.compile(dialect=engine.dialect)
    assert list(statement.bind_names.values()).count("payload") == 2
    with engine.begin() as conn:
        direct.execute(conn, two_rows, {"payload": {"a": [1, 2]}, "at": datetime.now(UTC)})
        stored = conn.execute(select(OUTBOX.c.payload).order_by(OUTBOX.c.key)).scalars().all()
    assert stored == [{"a": [1, 2]}, {"a": [1, 2]}]
