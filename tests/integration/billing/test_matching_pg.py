"""Closed-world matching on the real PostgreSQL, migrated to head (b1_0004): an unsure exit
settled under the only car that fits, its evidence kept, an unsure entry joined up at the exit,
and a review confirmation that charges once when sent twice at the same time."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.services import add_vehicle, confirm_match, seed_demo
from billing.services.seed import DemoData
from gateway import migrate
from gateway.db import make_engine, make_session_factory
from tests.unit.billing.test_settle_matching import AN, LOGISTICS_TWIN, Gates, Seen

pytestmark = pytest.mark.integration


@pytest.fixture()
def pg(pg_url: str) -> Iterator[tuple[UnitOfWork, DemoData]]:
    migrate.upgrade(pg_url, "billing@head")
    engine = make_engine(pg_url)
    uow = UnitOfWork(make_session_factory(engine))
    yield uow, seed_demo(uow)
    engine.dispose()


def fares(uow: UnitOfWork, account_id: int) -> int:
    with uow:
        return int(
            uow.session.scalar(
                select(func.count()).where(
                    orm.JournalEntry.account_id == account_id, orm.JournalEntry.kind == "fare"
                )
            )
            or 0
        )


def test_an_unsure_exit_is_matched_and_its_evidence_kept(pg: tuple[UnitOfWork, DemoData]) -> None:
    uow, demo = pg
    gates = Gates(uow, demo)
    gates.pass_("entry", "30A-123.45", 0, None, confidence=0.97)
    gates.pass_("entry", "30E-246.80", 1, None, confidence=0.97)
    d = gates.pass_("exit", "30A-123.46", 61, Seen("30A12346"))
    assert (d.open, d.reason, d.plate) == (True, "exit_paid", "30A-123.45")
    with uow:
        kept = uow.session.scalar(
            select(orm.Passage.match_evidence).where(orm.Passage.id == d.passage_id)
        )
    assert kept is not None and kept["best"] == AN and kept["session_id"] == d.session_id
    assert fares(uow, demo.accounts["an"]) == 1


def test_an_unsure_entry_joins_up_at_the_exit(pg: tuple[UnitOfWork, DemoData]) -> None:
    uow, demo = pg
    add_vehicle(uow, demo.accounts["logistics"], "30A-128.45", "car_le9")
    gates = Gates(uow, demo)
    entry = gates.pass_("entry", None, 0, Seen("30A12045", (AN, LOGISTICS_TWIN)))
    assert entry.open and not entry.review
    d = gates.pass_("exit", None, 90, Seen(AN, per_edit=12.0))
    assert (d.reason, d.session_id, d.plate) == ("exit_paid", entry.session_id, "30A-123.45")
    assert fares(uow, demo.accounts["an"]) == 1


def test_two_confirmations_at_once_charge_once(pg: tuple[UnitOfWork, DemoData]) -> None:
    uow, demo = pg
    add_vehicle(uow, demo.accounts["logistics"], "30A-128.45", "car_le9")
    gates = Gates(uow, demo)
    gates.pass_("entry", "30A-123.45", 0, None, confidence=0.97)
    gates.pass_("entry", "30A-128.45", 1, None, confidence=0.97)
    d = gates.pass_("exit", None, 61, Seen("30A12045"))
    assert d.review
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(
                lambda _: confirm_match(UnitOfWork(uow.session_factory), d.passage_id, AN, "op"),
                range(2),
            )
        )
    assert results[0] == results[1]
    assert fares(uow, demo.accounts["an"]) == 1
    assert fares(uow, demo.accounts["logistics"]) == 0
