"""What several command modules share."""

from __future__ import annotations

from rich.console import Console

from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import vnd
from gateway.db import make_engine, make_session_factory
from gateway.settings import get_settings


def database_uow() -> UnitOfWork:
    """A unit of work on the configured database (``PARKING_DATABASE_URL``), for one command."""
    engine = make_engine(get_settings().effective_database_url)
    return UnitOfWork(make_session_factory(engine))


console = Console()


def money(amount: int | None) -> str:
    """VND for a table cell; empty when there is no amount."""
    return "" if amount is None else vnd(amount)
