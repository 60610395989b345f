"""Invoices issued before lookup codes existed get one each when the database is upgraded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, select

from einvoice.db import invoices
from einvoice.lookup_codes import normalize_lookup_code
from gateway import migrate

pytestmark = pytest.mark.integration


def _old_invoice(n: int) -> dict[str, object]:
    now = datetime(2026, 3, 2, 3, tzinfo=UTC)
    return {
        "request_key": f"ev-{n}",
        "event_id": f"ev-{n}",
        "kind": "original",
        "mode": "cash_register",
        "template": "1",
        "series": "C26MPK",
        "year": 2026,
        "number": n,
        "issue_date": date(2026, 3, 2),
        "issued_at": now,
        "seller_tax_code": "0101234567",
        "seller_name": "Bãi xe",
        "pretax_vnd": 23_148,
        "vat_vnd": 1_852,
        "total_vnd": 25_000,
        "vat_rate": "8%",
        "payload": {},
        "status": "accepted",
        "xml": b"<HDon/>",
        "submit_attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def _check(url: str) -> None:
    migrate.upgrade(url, "e1_0001")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:  # lookup_code is not in the insert: the column is new
            for n in (1, 2, 3):
                conn.execute(invoices.insert().values(**_old_invoice(n)))
        migrate.upgrade(url, "einvoice@head")
        with engine.connect() as conn:
            codes = list(conn.scalars(select(invoices.c.lookup_code)))
        assert len(set(codes)) == 3
        assert all(normalize_lookup_code(c) == c for c in codes)
        migrate.downgrade(url, "e1_0001")
        migrate.upgrade(url, "einvoice@head")
    finally:
        engine.dispose()


def test_existing_invoices_get_lookup_codes_on_sqlite(sqlite_url: str) -> None:
    _check(sqlite_url)


def test_existing_invoices_get_lookup_codes_on_postgresql(pg_url: str) -> None:
    _check(pg_url)
