"""The unit of work: one database transaction, plus what the services need beside it.

The transaction runs on an ORM :class:`~sqlalchemy.orm.Session` or on a plain Core
:class:`~sqlalchemy.engine.Connection`, whichever the code inside the block asks for first:
``uow.session`` for ORM work, ``uow.connection`` for Core statements. Settlement, on every
gate event's path, touches only ``uow.connection``: it then creates no Session at all, whose
begin, commit and close cost about a fifth of a settlement's CPU (issue 14). Both can be used in
one block: they share the one transaction.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from billing.adapters.orm import utcnow
from billing.domain.tariffs import TariffCatalog

_CACHES: weakref.WeakKeyDictionary[sessionmaker[Session], dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)
_CACHES_LOCK = threading.Lock()


class UnitOfWork:
    """``with uow: ...; uow.commit()``; leaving the block without commit rolls back.

    One object may serve many threads (a web server's pool, the gateway's workers): each thread
    gets its own transaction (session or connection) for the duration of its ``with`` block.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        tariffs: TariffCatalog | None = None,
        clock: Callable[[], datetime] = utcnow,
        lot_cache_seconds: float = 2.0,
    ) -> None:
        self.session_factory = session_factory
        self._tariffs = tariffs
        self.clock = clock
        self.lot_cache_seconds = lot_cache_seconds
        self._local = threading.local()
        bind = session_factory.kw.get("bind")
        # A factory bound to one engine can hand out plain connections; one with several binds
        # (or none) cannot tell which: its Core work then goes through a Session.
        self._engine: Engine | None = bind if isinstance(bind, Engine) else None

    def _inside(self) -> None:
        if not getattr(self._local, "inside", False):
            raise RuntimeError("use the unit of work inside 'with uow:'")

    @property
    def session(self) -> Session:
        """The ORM session of this block's transaction, created when first asked for (on the
        connection of ``uow.connection`` if that came first)."""
        local = self._local
        session: Session | None = getattr(local, "session", None)
        if session is None:
            self._inside()
            conn: Connection | None = getattr(local, "conn", None)
            if conn is None:
                session = self.session_factory()
            else:
                # Core statements ran first: the session joins their transaction. It flushes
                # and rolls back in it; commit and close are the unit of work's (see commit).
                session = self.session_factory(bind=conn, join_transaction_mode="rollback_only")
            local.session = session
        return session

    @property
    def connection(self) -> Connection:
        """The Core connection of this block's transaction, for statements that need no ORM.

        The first thing asked for in a block: a pooled connection with its transaction begun,
        and no Session. Once the session is in use: its connection, with its pending changes
        flushed first (as the session's own queries would autoflush them).
        """
        local = self._local
        conn: Connection | None = getattr(local, "conn", None)
        if conn is not None:
            return conn
        session: Session | None = getattr(local, "session", None)
        if session is None and self._engine is not None:
            self._inside()
            conn = local.conn = self._engine.connect()
            conn.begin()
            return conn
        session = self.session
        if session.autoflush:
            session.flush()
        return session.connection()

    @property
    def cache(self) -> dict[str, Any]:
        """Small read caches (see services.lots), shared by every unit of work and thread that
        uses the same session factory, so a unit of work made per call still benefits."""
        with _CACHES_LOCK:
            found = _CACHES.get(self.session_factory)
            if found is None:
                found = _CACHES[self.session_factory] = {}
            return found

    @property
    def tariffs(self) -> TariffCatalog:
        if self._tariffs is None:
            from billing.tariffs import load_catalog

            self._tariffs = load_catalog()
        return self._tariffs

    def __enter__(self) -> UnitOfWork:
        if getattr(self._local, "inside", False):
            raise RuntimeError("this thread is already inside this unit of work")
        self._local.inside = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back what was not committed. The session's close detaches its objects
        # without expiring them, so values read inside the block stay readable after it.
        local = self._local
        session: Session | None = getattr(local, "session", None)
        conn: Connection | None = getattr(local, "conn", None)
        local.session = local.conn = None
        local.inside = False
        try:
            if session is not None:
                session.close()
        finally:
            if conn is not None:
                conn.close()

    def _held(self) -> tuple[Session | None, Connection | None]:
        """This block's session and connection, whichever exist."""
        self._inside()
        return getattr(self._local, "session", None), getattr(self._local, "conn", None)

    def commit(self) -> None:
        session, conn = self._held()
        if session is not None:
            session.commit()  # flushes; on a connection of its own, commits too
        if conn is not None:
            conn.commit()

    def rollback(self) -> None:
        session, conn = self._held()
        if session is not None:
            session.rollback()
        if conn is not None:
            conn.rollback()
