"""Column types shared by the packages that own tables (billing, einvoice, gateway).

billing and einvoice each keep their own tables, and both need the same answer to "what is a
time in the database": UTC on every backend, aware ``datetime`` in Python. einvoice may not
import billing's adapters (pyproject's import contracts) and billing may not import einvoice,
so the one copy lives here, a leaf of billing that imports only SQLAlchemy.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """UTC in the database, aware UTC ``datetime`` out on every backend; naive values refused.

    SQLite keeps no offset, so it stores naive UTC and gets UTC attached back on reading.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


__all__ = ["UtcDateTime"]
