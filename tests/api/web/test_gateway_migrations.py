"""The gateway's migration branch goes up and down on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from gateway import migrate

TABLES = {
    "gw_users",
    "gw_operator_grants",
    "gw_audit_log",
    "gw_webhook_deliveries",
    "gw_notices",
    "gw_notice_deliveries",
    "gw_verifications",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _roundtrip(url: str) -> None:
    migrate.upgrade(url, "gateway@head")
    assert _tables(url) >= TABLES
    migrate.downgrade(url, "gateway@base")
    assert not TABLES & _tables(url)
    migrate.upgrade(url, "gateway@head")
    assert _tables(url) >= TABLES


def test_gateway_branch_on_sqlite(sqlite_url: str) -> None:
    _roundtrip(sqlite_url)


def test_gateway_branch_on_postgresql(pg_url: str) -> None:
    _roundtrip(pg_url)
