"""The unit of work: one database transaction, plus what the services need beside it."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

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
    gets its own session for the duration of its ``with`` block.
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

    @property
    def session(self) -> Session:
        session: Session | None = getattr(self._local, "session", None)
        if session is None:
            raise RuntimeError("use the unit of work inside 'with uow:'")
        return session

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
        if getattr(self._local, "session", None) is not None:
            raise RuntimeError("this thread is already inside this unit of work")
        self._local.session = self.session_factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back what was not committed and detaches the objects without expiring
        # them, so values read inside the block stay readable after it.
        session, self._local.session = self._local.session, None
        session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
