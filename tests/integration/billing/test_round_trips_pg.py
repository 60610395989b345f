"""Round trips of the usual passage on PostgreSQL: what issue 14's settlement speed rests on.

An entry and a paid exit each insert the passage together with every look-up of its plate
(``statements.q_insert_and_look_up``); a regression that brings a per-passage look-up back (the
lot's lists, the late-entry check, the vehicle) shows here as one statement more.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from billing.adapters.uow import UnitOfWork
from billing.services import seed_demo
from billing.services.seed import CENTRAL_LOT
from gateway import migrate
from gateway.db import make_engine, make_session_factory
from gateway.pg_cursor import LazyDescriptionCursor
from tests.unit.billing.conftest import Lane

pytestmark = pytest.mark.integration


@pytest.fixture()
def counted(pg_url: str) -> Iterator[tuple[Lane, list[str]]]:
    migrate.upgrade(pg_url, "billing@head")
    statements: list[str] = []

    class CountingCursor(LazyDescriptionCursor):
        # counted at the driver: settlement's hot statements skip SQLAlchemy's cursor events
        # (billing.adapters.direct)
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            statements.append(str(query))
            return super().execute(query, params, **kw)

    engine = make_engine(pg_url, connect_args={"cursor_factory": CountingCursor})
    uow = UnitOfWork(make_session_factory(engine))
    yield Lane(uow, seed_demo(uow), CENTRAL_LOT), statements
    engine.dispose()


def test_entry_and_paid_exit_take_two_statements_each(counted: tuple[Lane, list[str]]) -> None:
    lane, statements = counted
    lane.enter("29C-456.78", 0)  # the lot cache and the tariffs warm up here
    statements.clear()
    entry = lane.enter("30E-246.80", 1)
    entry_statements = list(statements)
    statements.clear()
    paid = lane.leave("30E-246.80", 61)
    assert (entry.reason, paid.reason) == ("entry_ok", "exit_paid")
    # entry: passage + look-ups, then the session + decision + outbox; exit: passage + look-ups
    # and locks, then the journal entry and lines, session closed, balance, decision, outbox
    assert len(entry_statements) == 2, entry_statements
    assert len(statements) == 2, statements
    assert entry_statements[0].startswith("WITH new_passage AS")
    assert statements[0].startswith("WITH new_passage AS")
