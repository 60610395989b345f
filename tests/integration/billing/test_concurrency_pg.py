"""Settlement under concurrency on the real PostgreSQL: one debit per event, no policy breach."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import func, select

from billing.adapters import orm, outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import GateDecision, PassageInput
from billing.domain.model import Owner, OwnerKind
from billing.domain.tariffs import local_zone
from billing.services import (
    add_vehicle,
    create_account,
    get_account,
    reconcile,
    seed_demo,
    set_lot_policy,
    settle_passage,
    top_up,
)
from billing.services.ledger import check_balances, trial_balance
from billing.services.seed import CENTRAL_LOT, DemoData
from gateway import migrate
from gateway.db import make_engine, make_session_factory

pytestmark = pytest.mark.integration
HN = local_zone("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=HN)
_serial = count(1)


@pytest.fixture(scope="module")
def pg(pg_url_module: str) -> Iterator[tuple[UnitOfWork, DemoData]]:
    migrate.upgrade(pg_url_module, "billing@head")
    engine = make_engine(pg_url_module, pool_size=20, max_overflow=10)
    uow = UnitOfWork(make_session_factory(engine))
    yield uow, seed_demo(uow)
    engine.dispose()


def new_account(uow: UnitOfWork, balance: int, cars: int) -> tuple[int, list[str]]:
    acct = create_account(uow, Owner(OwnerKind.PERSON, f"Test {next(_serial)}"))
    plates = []
    for _ in range(cars):
        n = next(_serial)
        plate = f"30K-{n // 100 % 1000:03d}.{n % 100:02d}"
        add_vehicle(uow, acct, plate, "car_le9")
        plates.append(plate)
    if balance:
        top_up(uow, acct, balance, "test-bank", f"seed-{acct}")
    return acct, plates


def run_together(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Start ``n`` calls at the same instant from ``n`` threads."""
    barrier = threading.Barrier(n)

    def go(i: int) -> Any:
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(go, range(n)))


def passage(
    demo: DemoData, event_id: str, direction: str, plate: str, minutes: float
) -> PassageInput:
    entry_gate, exit_gate = demo.gates[CENTRAL_LOT]
    return PassageInput(
        event_id,
        CENTRAL_LOT,
        entry_gate if direction == "entry" else exit_gate,
        direction,
        T0 + timedelta(minutes=minutes),
        plate,
        0.97,
    )


def test_many_threads_settling_one_exit_event_debit_once(pg: tuple[UnitOfWork, DemoData]) -> None:
    uow, demo = pg
    acct, (plate,) = new_account(uow, 200_000, 1)
    settle_passage(uow, passage(demo, f"in-{acct}", "entry", plate, 0))
    exit_event = passage(demo, f"out-{acct}", "exit", plate, 61)

    decisions: list[GateDecision] = run_together(12, lambda _i: settle_passage(uow, exit_event))

    assert all(d == decisions[0] for d in decisions)
    assert (decisions[0].reason, decisions[0].fare_vnd) == ("exit_paid", 50_000)
    view = get_account(uow, acct)
    assert view is not None and view.balance_vnd == 150_000
    with uow:
        s = uow.session
        fares = s.scalar(
            select(func.count())
            .select_from(orm.JournalEntry)
            .where(orm.JournalEntry.account_id == acct, orm.JournalEntry.kind == "fare")
        )
        kinds = s.execute(
            select(orm.OutboxRow.kind, func.count())
            .where(orm.OutboxRow.key == exit_event.event_id)
            .group_by(orm.OutboxRow.kind)
        ).all()
        passages = s.scalar(
            select(func.count())
            .select_from(orm.Passage)
            .where(orm.Passage.event_id == exit_event.event_id)
        )
    assert fares == 1 and passages == 1
    assert dict(kinds) == {"barrier_command": 1, "invoice_request": 1}


@pytest.mark.parametrize(
    ("policy", "floor"),
    [
        ({"low_balance": "deny"}, 0),
        ({"low_balance": "overdraft", "overdraft_limit_vnd": 60_000}, -60_000),
    ],
)
def test_concurrent_exits_on_one_account_never_breach_its_policy(
    pg: tuple[UnitOfWork, DemoData], policy: dict[str, Any], floor: int
) -> None:
    uow, demo = pg
    set_lot_policy(uow, CENTRAL_LOT, **policy)
    acct, plates = new_account(uow, 110_000, 10)
    for i, plate in enumerate(plates):
        settle_passage(uow, passage(demo, f"in-{acct}-{i}", "entry", plate, 0))

    decisions: list[GateDecision] = run_together(
        len(plates),
        lambda i: settle_passage(uow, passage(demo, f"out-{acct}-{i}", "exit", plates[i], 30)),
    )

    paid = [d for d in decisions if d.open]
    denied = [d for d in decisions if not d.open]
    expected_paid = (110_000 - floor) // 25_000
    assert len(paid) == expected_paid and all(d.reason == "low_balance" for d in denied)
    view = get_account(uow, acct)
    assert view is not None
    assert view.balance_vnd == 110_000 - 25_000 * expected_paid >= floor
    assert min(d.balance_vnd for d in paid if d.balance_vnd is not None) >= floor
    with uow:
        assert check_balances(uow.session) == []
        assert sum(trial_balance(uow.session).values()) == 0
    set_lot_policy(uow, CENTRAL_LOT, low_balance="overdraft", overdraft_limit_vnd=50_000)


def test_outbox_claims_skip_rows_locked_by_another_worker(pg: tuple[UnitOfWork, DemoData]) -> None:
    uow, demo = pg
    acct, plates = new_account(uow, 500_000, 4)
    for i, plate in enumerate(plates):
        settle_passage(uow, passage(demo, f"o-in-{acct}-{i}", "entry", plate, 0))
        settle_passage(uow, passage(demo, f"o-out-{acct}-{i}", "exit", plate, 30))
    first, second = UnitOfWork(uow.session_factory), UnitOfWork(uow.session_factory)
    with first, second:
        a = outbox.claim(first.session, "invoice_request", limit=2)
        b = outbox.claim(second.session, "invoice_request", limit=100)
        assert len(a) == 2 and b
        assert not {r.id for r in a} & {r.id for r in b}
        for row in a:
            outbox.mark_processed(first.session, row.id)
        first.commit()
        second.rollback()
    with uow:
        assert outbox.pending(uow.session, "invoice_request") >= 2


def test_a_car_held_for_low_balance_pays_on_its_retry_on_postgres(
    pg: tuple[UnitOfWork, DemoData],
) -> None:
    """The hold and the resolution ride in the one-statement finish (data-modifying CTEs)."""
    uow, demo = pg
    set_lot_policy(uow, CENTRAL_LOT, low_balance="deny")
    acct, (plate,) = new_account(uow, 10_000, 1)
    entry = settle_passage(uow, passage(demo, f"h-in-{acct}", "entry", plate, 0))
    held = settle_passage(uow, passage(demo, f"h-out-{acct}-1", "exit", plate, 30))
    assert (held.open, held.reason, held.review) == (False, "low_balance", True)
    assert settle_passage(uow, passage(demo, f"h-out-{acct}-2", "exit", plate, 30.5)).review
    with uow:
        s = uow.session.get(orm.ParkingSession, entry.session_id)
        assert s is not None and (s.status, s.payment) == ("open", "unpaid")
    top_up(uow, acct, 50_000, "test-bank", f"more-{acct}")
    paid = settle_passage(uow, passage(demo, f"h-out-{acct}-3", "exit", plate, 31))
    assert (paid.open, paid.reason, paid.balance_vnd) == (True, "exit_paid", 35_000)
    with uow:
        pending = uow.session.scalar(
            select(func.count())
            .select_from(orm.Passage)
            .where(orm.Passage.account_id == acct, orm.Passage.review_status == "pending")
        )
        s = uow.session.get(orm.ParkingSession, entry.session_id)
        assert s is not None and (s.status, s.payment) == ("closed", "charged")
    assert pending == 0
    set_lot_policy(uow, CENTRAL_LOT, low_balance="overdraft", overdraft_limit_vnd=50_000)


def test_the_day_reconciles_on_postgres(pg: tuple[UnitOfWork, DemoData]) -> None:
    uow, _ = pg
    r = reconcile(uow, T0.date())
    assert r.trial_balance_vnd == 0
    assert r.mismatches == ()
    central = next(x for x in r.lots if x.lot_id == CENTRAL_LOT)
    assert central.fares_vnd == central.ledger_fares_vnd > 0


def test_concurrent_entries_of_one_plate_open_one_session(pg: tuple[UnitOfWork, DemoData]) -> None:
    """Entries of one plate at once under different event ids (a camera that fired twice, a
    redelivery re-keyed): the plate ends with one open session, and every decision names a
    session that exists (on PostgreSQL the entry's session id is drawn before its INSERT, which
    a concurrent entry's session makes fail: that settlement is run again)."""
    uow, demo = pg
    for round_ in range(3):
        acct, (plate,) = new_account(uow, 200_000, 1)

        def enter(i: int, acct: int = acct, plate: str = plate, round_: int = round_) -> Any:
            return settle_passage(
                uow, passage(demo, f"twin-in-{acct}-{round_}-{i}", "entry", plate, 0)
            )

        decisions: list[GateDecision] = run_together(8, enter)
        assert all(d.open for d in decisions)
        with uow:
            s = uow.session
            open_ids = s.scalars(
                select(orm.ParkingSession.id).where(
                    orm.ParkingSession.account_id == acct, orm.ParkingSession.status == "open"
                )
            ).all()
            named = {d.session_id for d in decisions if d.session_id is not None}
            existing = s.scalars(
                select(orm.ParkingSession.id).where(orm.ParkingSession.id.in_(named))
            ).all()
        assert len(open_ids) == 1
        assert set(existing) == named and open_ids[0] in named
        assert [d.reason for d in decisions].count("entry_ok") == 1
