"""The unit of work: a Core connection or an ORM session, whichever the block asks for first,
in one transaction; settlement runs on the connection alone and creates no Session (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.services import settle_exit as settle_exit_module
from billing.services.seed import DemoData

from .conftest import Lane

CAR = "30A-123.45"  # account "an", 500,000 VND


@pytest.fixture()
def sessions_made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Session]]:
    """Every ORM Session created while the test runs."""
    made: list[Session] = []
    init = Session.__init__

    def counting_init(self: Session, *args: Any, **kw: Any) -> None:
        made.append(self)
        init(self, *args, **kw)

    monkeypatch.setattr(Session, "__init__", counting_init)
    yield made


def passages(uow: UnitOfWork, event_id: str) -> int:
    with uow:
        stmt = select(func.count()).select_from(orm.Passage).where(orm.Passage.event_id == event_id)
        return int(uow.connection.scalar(stmt) or 0)


def test_settling_an_entry_and_a_paid_exit_creates_no_orm_session(
    lane: Lane, sessions_made: list[Session]
) -> None:
    lane.enter("29C-456.78", 0)  # warms the lot cache and the tariffs
    sessions_made.clear()
    entry = lane.enter(CAR, 1)
    paid = lane.leave(CAR, 61)
    assert (entry.reason, paid.reason) == ("entry_ok", "exit_paid")
    assert paid.fare_vnd == 25_000  # 60 minutes
    assert sessions_made == []


def test_a_replayed_event_creates_no_orm_session_either(
    lane: Lane, sessions_made: list[Session]
) -> None:
    first = lane.enter(CAR, 0, event_id="replayed-1")
    sessions_made.clear()
    again = lane.enter(CAR, 0, event_id="replayed-1")
    assert again.replayed and again.passage_id == first.passage_id
    assert sessions_made == []


def test_an_error_inside_settlement_rolls_the_whole_passage_back(
    uow: UnitOfWork, demo: DemoData, lane: Lane, monkeypatch: pytest.MonkeyPatch
) -> None:
    lane.enter(CAR, 0)

    def broken(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("pricing failed")

    # the passage row is inserted before the exit is priced: it must not stay
    monkeypatch.setattr(settle_exit_module, "price_session", broken)
    with pytest.raises(RuntimeError, match="pricing failed"):
        lane.leave(CAR, 61, event_id="broken-exit")
    assert passages(uow, "broken-exit") == 0
    monkeypatch.undo()
    # the connection went back to the pool clean: the same event settles now, once
    paid = lane.leave(CAR, 61, event_id="broken-exit")
    assert (paid.reason, paid.fare_vnd) == ("exit_paid", 50_000)
    assert passages(uow, "broken-exit") == 1


def test_connection_and_session_share_one_transaction(uow: UnitOfWork, demo: DemoData) -> None:
    def add_operator(op_id: str) -> None:
        # Core first, then the ORM: the session joins the connection's transaction
        uow.connection.execute(
            insert(orm.table_of(orm.Operator)).values(
                id=op_id,
                name="Op",
                tax_code="0101234567",
                address="Ha Noi",
                invoice_template="1",
                invoice_series="C26TAA",
                invoice_mode="batch",
                cash_register_code=None,
            )
        )
        assert uow.session.get(orm.Operator, op_id) is not None

    with uow:
        add_operator("op-rolled-back")  # no commit: both go
    with uow:
        add_operator("op-kept")
        uow.session.get(orm.Operator, "op-kept").name = "Op kept"  # type: ignore[union-attr]
        uow.commit()
    with uow:
        names = dict(
            uow.connection.execute(
                select(orm.Operator.id, orm.Operator.name).where(orm.Operator.id.like("op-%"))
            ).all()
        )
    assert names == {"op-kept": "Op kept"}


def test_the_connection_sees_what_the_session_has_not_flushed_yet(
    uow: UnitOfWork, demo: DemoData
) -> None:
    with uow:
        op = uow.session.get(orm.Operator, demo.operator_id)
        assert op is not None
        op.name = "Renamed"  # pending in the session
        name = uow.connection.scalar(
            select(orm.Operator.name).where(orm.Operator.id == demo.operator_id)
        )
    assert name == "Renamed"


def test_the_unit_of_work_is_used_inside_with(uow: UnitOfWork) -> None:
    with pytest.raises(RuntimeError, match="inside 'with uow:'"):
        _ = uow.connection
    with pytest.raises(RuntimeError, match="inside 'with uow:'"):
        _ = uow.session
    with pytest.raises(RuntimeError, match="inside 'with uow:'"):
        uow.commit()
    with uow, pytest.raises(RuntimeError, match="already inside"):
        uow.__enter__()
