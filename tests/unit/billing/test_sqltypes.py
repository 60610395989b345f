"""The one aware-datetime column type that billing's and einvoice's tables share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.exc import StatementError

from billing.adapters import orm
from billing.sqltypes import UtcDateTime
from einvoice import db as einvoice_db


def test_both_packages_use_the_one_type() -> None:
    assert isinstance(orm.JournalEntry.__table__.c.created_at.type, UtcDateTime)
    assert isinstance(einvoice_db.invoices.c.issued_at.type, UtcDateTime)


def test_times_come_back_aware_utc_and_naive_ones_are_refused() -> None:
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime())
    )
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    hanoi = timezone(timedelta(hours=7))
    with engine.begin() as conn:
        conn.execute(insert(table).values(id=1, at=datetime(2027, 3, 2, 10, 0, tzinfo=hanoi)))
        conn.execute(insert(table).values(id=2, at=None))
        back = dict(conn.execute(select(table.c.id, table.c.at)).all())
        assert back == {1: datetime(2027, 3, 2, 3, 0, tzinfo=UTC), 2: None}
        assert back[1].tzinfo is UTC
        with pytest.raises(StatementError, match="naive datetime"):
            conn.execute(insert(table).values(id=3, at=datetime(2027, 3, 2, 10, 0)))
