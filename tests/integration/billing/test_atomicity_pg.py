"""A settlement commits all of its writes or none: a failure at COMMIT, after the outbox rows
were written, leaves no trace of the passage (real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import ColumnElement, Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import PassageInput
from billing.domain.tariffs import local_zone
from billing.services import seed_demo, settle_passage
from billing.services.ledger import check_balances
from billing.services.seed import CENTRAL_LOT, DemoData
from gateway import migrate
from gateway.db import make_engine, make_session_factory

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=local_zone("Asia/Ho_Chi_Minh"))
CAR = "30A-123.45"  # account "an", 500,000 VND
EVENT = "boom-exit"

# Fires at COMMIT (a deferred constraint trigger), i.e. after the last statement of the
# settlement, which on PostgreSQL is the one that writes the outbox rows.
FAIL_AT_COMMIT = f"""
CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.key = '{EVENT}' THEN
        RAISE EXCEPTION 'injected failure at commit of outbox row %', NEW.kind;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER outbox_fail_at_commit AFTER INSERT ON outbox
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();
"""


@pytest.fixture()
def pg(pg_url: str) -> Iterator[tuple[UnitOfWork, DemoData, Engine]]:
    migrate.upgrade(pg_url, "billing@head")
    engine = make_engine(pg_url)
    uow = UnitOfWork(make_session_factory(engine))
    yield uow, seed_demo(uow), engine
    engine.dispose()


def _exit(demo: DemoData) -> PassageInput:
    return PassageInput(
        EVENT, CENTRAL_LOT, demo.gates[CENTRAL_LOT][1], "exit", T0 + timedelta(minutes=61), CAR
    )


def test_a_failed_commit_after_the_outbox_rows_leaves_nothing(
    pg: tuple[UnitOfWork, DemoData, Engine],
) -> None:
    uow, demo, engine = pg
    entry = settle_passage(
        uow, PassageInput("boom-entry", CENTRAL_LOT, demo.gates[CENTRAL_LOT][0], "entry", T0, CAR)
    )
    with engine.begin() as conn:
        conn.execute(text(FAIL_AT_COMMIT))

    with pytest.raises(DBAPIError, match="injected failure at commit"):
        settle_passage(uow, _exit(demo))

    with uow:
        s = uow.session

        def count(model: type[orm.Base], *where: ColumnElement[bool]) -> int:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        assert count(orm.Passage, orm.Passage.event_id == EVENT) == 0
        assert count(orm.JournalEntry, orm.JournalEntry.event_id == EVENT) == 0
        assert count(orm.JournalEntry, orm.JournalEntry.kind == "fare") == 0
        assert count(orm.OutboxRow, orm.OutboxRow.key == EVENT) == 0
        session = s.get(orm.ParkingSession, entry.session_id)
        assert session is not None
        assert (session.status, session.exit_at, session.payment, session.fare_vnd) == (
            "open",
            None,
            None,
            None,
        )
        acct = s.get(orm.TransportAccount, demo.accounts["an"])
        assert acct is not None and acct.balance_vnd == 500_000
        assert check_balances(s) == []

    # Nothing half-done stands in the way: once the fault is gone the same event settles.
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER outbox_fail_at_commit ON outbox"))
    d = settle_passage(uow, _exit(demo))
    assert (d.open, d.reason, d.fare_vnd, d.balance_vnd) == (True, "exit_paid", 50_000, 450_000)
    with uow:
        kinds = sorted(
            uow.session.scalars(select(orm.OutboxRow.kind).where(orm.OutboxRow.key == EVENT))
        )
    assert kinds == ["barrier_command", "invoice_request"]
