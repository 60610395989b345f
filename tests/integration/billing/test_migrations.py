"""Billing's migration branch upgrades and downgrades on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, create_engine, inspect

from billing.adapters.orm import metadata
from gateway import migrate

pytestmark = pytest.mark.integration


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_billing_branch_up_down_up(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    ours = set(metadata.tables)
    migrate.upgrade(url, "billing@head")
    assert ours <= _tables(url)
    migrate.downgrade(url, "billing@base")
    assert not (ours & _tables(url))
    migrate.upgrade(url, "billing@head")
    assert ours <= _tables(url)


def schema_diff(url: str, models: MetaData) -> list[object]:
    """What autogenerate would still do for ``models`` on the migrated database at ``url``
    (tables of other packages left aside): empty when migrations and models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            return [
                d
                for d in compare_metadata(ctx, models)
                if not (
                    isinstance(d, tuple)
                    and str(d[1]).split(".")[0] not in models.tables
                    and d[0] == "remove_table"
                )
            ]
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrated_schema_matches_the_models(backend: str, request: pytest.FixtureRequest) -> None:
    """Autogenerate finds nothing to do: the migration and orm.py describe the same schema."""
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    migrate.upgrade(url, "billing@head")
    assert schema_diff(url, metadata) == []
