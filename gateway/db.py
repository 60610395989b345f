"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

# A pooled connection idle for longer than this is pinged before it is handed out.
PING_IDLE_S = 5.0


def ensure_sqlite_dir(database_url: str) -> None:
    """Create the folder of a SQLite file: SQLite makes the file, never its folder.

    Engines made here get it; so do migrations, whose Alembic environment builds its own engine
    (without it ``parking db upgrade`` failed on a fresh checkout: "unable to open database
    file" for the default ``var/parking.db``).
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, *, ping_idle_s: float = PING_IDLE_S, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs for concurrent writers.

    ``ping_idle_s`` (PostgreSQL): see :func:`_ping_when_idle`.
    """
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the one writer; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Take the write lock at BEGIN so concurrent settlements serialize instead of failing.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        # pysqlite's own transaction handling must be off for the BEGIN above to be ours.
        @event.listens_for(engine, "connect", insert=True)
        def _sqlite_autocommit_off(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    if make_url(url).get_driver_name() == "psycopg":
        from gateway.pg_cursor import LazyDescriptionCursor

        # the result's columns are described only when read (see gateway.pg_cursor)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("cursor_factory", LazyDescriptionCursor)
        kwargs["connect_args"] = connect_args
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine, ping_idle_s)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection at checkout only when it sat idle for more than ``idle_s``.

    ``pool_pre_ping`` pings at every checkout: a round trip per transaction, about a tenth of a
    settlement's CPU. The connections that go stale are the idle ones (a server restart or an
    idle timeout during a quiet spell); those are still pinged, and replaced when dead. A
    connection that dies while in steady use fails on its first statement instead: SQLAlchemy
    then invalidates it and every connection pooled before it, and the caller retries the
    transaction (``settle_passage`` does so itself; the gateway's consumer retries too).
    """

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        # .info is emptied when a connection is replaced: a new connection is never pinged.
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at <= idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another (a fresh one if need be).
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
