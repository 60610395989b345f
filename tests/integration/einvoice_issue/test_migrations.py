from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from einvoice.db import metadata
from gateway import migrate

TABLES = {
    "einvoice_counters",
    "einvoice_invoices",
    "einvoice_status_history",
    "einvoice_messages",
    "einvoice_submission_attempts",
}

pytestmark = pytest.mark.integration


def _check_up_down(url: str) -> None:
    migrate.upgrade(url, "einvoice@head")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= TABLES
            # The migration creates exactly what einvoice.db describes.
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
            ours = [d for d in diffs if "einvoice_" in repr(d)]
            assert ours == []
        migrate.downgrade(url, "einvoice@base")
        with engine.connect() as conn:
            assert not TABLES & set(inspect(conn).get_table_names())
        migrate.upgrade(url, "einvoice@head")  # and up again after a full downgrade
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_migrations_up_and_down_on_sqlite(sqlite_url: str) -> None:
    _check_up_down(sqlite_url)


def test_migrations_up_and_down_on_postgresql(pg_url: str) -> None:
    _check_up_down(pg_url)
