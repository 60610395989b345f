"""The journal refuses UPDATE and DELETE in the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from billing.adapters.uow import UnitOfWork
from billing.services import seed_demo
from gateway import migrate
from gateway.db import make_engine, make_session_factory

pytestmark = pytest.mark.integration

REFUSED = [
    "UPDATE billing_journal_entries SET description = 'edited'",
    "UPDATE billing_journal_lines SET amount_vnd = amount_vnd + 1",
    "DELETE FROM billing_journal_lines",
    "DELETE FROM billing_journal_entries",
]


def _run(url: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def _entries(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text("SELECT count(*) FROM billing_journal_entries")) or 0)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_journal_rows_cannot_be_updated_or_deleted(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    migrate.upgrade(url, "billing@head")
    engine = make_engine(url)
    seed_demo(UnitOfWork(make_session_factory(engine)))  # inserting stays allowed
    engine.dispose()
    before = _entries(url)
    assert before > 0
    statements = REFUSED + (["TRUNCATE billing_journal_lines"] if backend == "postgresql" else [])
    for sql in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            _run(url, sql)
    assert _entries(url) == before
    # Down to the first revision the triggers are gone; up again they are back.
    migrate.downgrade(url, "b1_0001")
    _run(url, "UPDATE billing_journal_entries SET description = description")
    migrate.upgrade(url, "billing@head")
    with pytest.raises(DBAPIError, match="append-only"):
        _run(url, REFUSED[0])
