"""Every money path at once, in any order (hypothesis ``RuleBasedStateMachine``): entries, exits,
replayed events, top-ups through the real webhook processing, review charge / waive /
correct-plate, refunds and monthly pass sales.

After every step: reconciliation is clean (top-ups checked against the verified webhook
deliveries), the trial balance is zero, each event has at most one debit, and no session is
charged unless it is closed. On SQLite in memory; the same machine runs on PostgreSQL, built by
the real migrations.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import PassageInput
from billing.domain.model import DomainError, Owner, OwnerKind
from billing.domain.payments import MAX_TOP_UP_VND, MIN_TOP_UP_VND
from billing.domain.tariffs import local_zone
from billing.services import (
    add_vehicle,
    buy_monthly_pass,
    charge,
    correct_plate,
    create_account,
    manual_credit,
    open_topup_intent,
    reconcile,
    refund,
    review_queue,
    seed_demo,
    set_lot_policy,
    settle_passage,
    waive,
)
from billing.services.reads import LOCAL
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT, DemoData
from gateway import migrate
from gateway.db import make_session_factory
from gateway.orm import metadata as gateway_metadata
from gateway.payments.providers import PaymentProvider
from gateway.payments.records import DeliveryRecords
from gateway.payments.signing import signed_headers
from gateway.payments.webhook import process_webhook
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.integration

HN = local_zone("Asia/Ho_Chi_Minh")
START = datetime.now(HN).replace(hour=5, minute=0, second=0, microsecond=0)
PROVIDER = PaymentProvider(
    name="vietbank",
    label="Vietbank",
    webhook_secret="property-test-secret-0123456789",  # type: ignore[arg-type]
    checkout_url="http://pay.test/checkout",
)
# Registered plates (some accounts rich, some nearly empty: low balances are where the held
# cars and the review cases come from), an unknown one (51F-111.22), and an unreadable read.
LOW_BALANCE = [("30K-111.11", "car_le9", 5_000), ("29-D1 222.22", "motorbike", 0)]
PLATES = ["30A-123.45", "29-B1 678.90", "29-AA 123.45", "30E-246.80", "30G-999.99", "51F-111.22"]
PLATE = st.sampled_from([*PLATES, *(p for p, _, _ in LOW_BALANCE), None])
READ = st.sampled_from([0.99, 0.99, 0.99, 0.4])  # now and then a read to review
PICK = st.integers(-3, 12)  # an index into what happened so far; negative: the latest
LOT = st.sampled_from([CENTRAL_LOT, AIRPORT_LOT])


def sqlite_world() -> tuple[sessionmaker[Session], Callable[[], None]]:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _fk(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    orm.metadata.create_all(engine)
    gateway_metadata.create_all(engine)
    return make_session_factory(engine), engine.dispose


World = Callable[[], tuple[sessionmaker[Session], Callable[[], None]]]


class MoneyPaths(RuleBasedStateMachine):
    """``world`` makes each run's database: (session factory, close)."""

    def __init__(self, world: World = sqlite_world) -> None:
        super().__init__()
        self.factory, self._close = world()
        self.uow = UnitOfWork(self.factory)
        self.demo: DemoData = seed_demo(self.uow)
        # The central lot lets a car overdraw; the airport keeps it at the barrier (held).
        set_lot_policy(self.uow, AIRPORT_LOT, low_balance="deny", unknown_plate_exit="open_review")
        for plate, cls, balance in LOW_BALANCE:  # where held cars and review cases come from
            acct = create_account(self.uow, Owner(OwnerKind.PERSON, f"Chủ xe {plate}"))
            add_vehicle(self.uow, acct, plate, cls)
            if balance:
                manual_credit(self.uow, acct, balance, key=plate, actor="test", reason="opening")
        self.minute = 0
        self.inputs: list[PassageInput] = []  # every gate event, to replay
        self.inside: list[tuple[str, str]] = []  # (plate, lot) of cars inside: they may leave
        self.exited: list[tuple[str, str]] = []  # (plate, lot) seen at exits: may come back
        self.passages: list[int] = []  # every passage, for the operators
        self.days: set[date] = {START.date(), datetime.now(LOCAL).date()}

    def teardown(self) -> None:
        self._close()

    @staticmethod
    def _pick(items: list[Any], pick: int) -> Any:
        """``pick`` modulo the list: small negative picks are the latest items."""
        return items[pick % len(items)] if items else None

    # ------------------------------------------------------------------ gates

    def _settle(self, direction: str, plate: str | None, lot: str, step: int, read: float) -> int:
        self.minute += step
        at = START + timedelta(minutes=self.minute)
        entry_gate, exit_gate = self.demo.gates[lot]
        p = PassageInput(
            event_id=f"ev-{uuid.uuid4().hex[:12]}",
            lot_id=lot,
            gate_id=entry_gate if direction == "entry" else exit_gate,
            direction=direction,
            captured_at=at,
            plate_text=plate,
            plate_confidence=read,
            needs_review=read < 0.8,
        )
        self.inputs.append(p)
        self.days.add(at.astimezone(LOCAL).date())
        decision = settle_passage(self.uow, p)
        if plate is not None and direction == "entry":
            self.inside.append((plate, lot))
        elif plate is not None:
            self.exited.append((plate, lot))
            if decision.open and (plate, lot) in self.inside:  # it left; a held car is not
                self.inside.remove((plate, lot))
        self.passages.append(decision.passage_id)
        return decision.passage_id

    @rule(plate=PLATE, lot=LOT, step=st.integers(1, 30), read=READ)
    def enter(self, plate: str | None, lot: str, step: int, read: float) -> None:
        self._settle("entry", plate, lot, step, read)

    @rule(pick=PICK, step=st.integers(5, 300), read=READ)
    def leave(self, pick: int, step: int, read: float) -> None:
        """A car that entered leaves (short stays are free, long ones cost)."""
        plate, lot = self._pick(self.inside, pick) or (PLATES[0], CENTRAL_LOT)
        self._settle("exit", plate if read > 0.8 else None, lot, step, read)

    @rule(plate=PLATE, lot=LOT, step=st.integers(1, 240), read=READ)
    def exit_without_entry(self, plate: str | None, lot: str, step: int, read: float) -> None:
        self._settle("exit", plate, lot, step, read)

    @rule(pick=PICK, step=st.integers(1, 60))
    def try_the_exit_again(self, pick: int, step: int) -> None:
        """The same car at the same exit again (held at the barrier, it triggers again)."""
        plate, lot = self._pick(self.exited, pick) or (PLATES[4], AIRPORT_LOT)
        self._settle("exit", plate, lot, step, 0.99)

    @rule(pick=PICK, step=st.integers(1, 120))
    def come_back(self, pick: int, step: int) -> None:
        """A car seen at an exit enters the same lot again (it left, or slipped out)."""
        plate, lot = self._pick(self.exited, pick) or (PLATES[4], AIRPORT_LOT)
        self._settle("entry", plate, lot, step, 0.99)

    @rule(pick=PICK)
    def replay(self, pick: int) -> None:
        """A gate event again (a resend): answered with its first decision, nothing more."""
        p = self._pick(self.inputs, pick)
        if p is not None:
            first = settle_passage(self.uow, p)
            again = settle_passage(self.uow, p)
            assert again.replayed and again.passage_id == first.passage_id

    # ------------------------------------------------------------------ money in

    @rule(
        who=st.sampled_from(["an", "binh", "cuong", "logistics"]),
        # Mostly what drivers top up (small sums keep balances near the fares), now and then
        # the limits.
        amount=st.sampled_from([MIN_TOP_UP_VND, 20_000, 50_000, 100_000, 500_000, MAX_TOP_UP_VND]),
        redeliver=st.booleans(),
    )
    def top_up(self, who: str, amount: int, redeliver: bool) -> None:
        """A driver's top-up: the intent, then the provider's signed webhook, through the
        gateway's real processing function (once more with a fresh key: a redelivery)."""
        intent = open_topup_intent(self.uow, self.demo.accounts[who], PROVIDER.name, amount)
        body = json.dumps(
            {
                "event": "payment.succeeded",
                "provider": PROVIDER.name,
                "provider_txn_id": f"TX-{intent.reference}",
                "reference": intent.reference,
                "amount_vnd": amount,
            }
        ).encode()
        for key in ("d1", "d2") if redeliver else ("d1",):
            headers = signed_headers(PROVIDER.secret, body, f"{key}-{intent.reference}")
            answer = process_webhook(
                self.factory, self.uow, {PROVIDER.name: PROVIDER}, body, dict(headers)
            )
            assert answer.status_code == 200, answer.body

    @rule(
        who=st.sampled_from(["an", "logistics"]),
        lot=LOT,
        kind=st.sampled_from(["day", "day_night"]),
    )
    def sell_pass(self, who: str, lot: str, kind: str) -> None:
        with self.uow:
            vehicle = self.uow.session.scalar(
                select(orm.Vehicle.id).where(
                    orm.Vehicle.account_id == self.demo.accounts[who], orm.Vehicle.active
                )
            )
        assert vehicle is not None
        start = START.date() - timedelta(days=3)
        # A balance too low, a class without that pass: refused, nothing posted.
        with suppress(DomainError):
            buy_monthly_pass(self.uow, vehicle, lot, kind, start, f"sale-{uuid.uuid4().hex[:8]}")

    # ------------------------------------------------------------------ operators

    def _case(self, pick: int, queued: bool) -> int | None:
        """A passage of the review queue (or, ``queued`` False, any passage: an operator may
        act on a case already settled, or on an entry)."""
        if queued:
            pending = [p.id for p in review_queue(self.uow)]
            if pending:
                return int(self._pick(pending, pick))
        return self._pick(self.passages, pick)

    @rule(pick=PICK, queued=st.booleans(), amount=st.sampled_from([None, 30_000]))
    def review_charge(self, pick: int, queued: bool, amount: int | None) -> None:
        passage = self._case(pick, queued)
        # Refusals (charged already, no registered vehicle, a stay that ended elsewhere) are
        # fine; anything else, or books that stop reconciling, is a failure.
        if passage is not None:
            with suppress(DomainError):
                charge(self.uow, passage, actor="op", amount_vnd=amount)

    @rule(pick=PICK, queued=st.booleans())
    def review_waive(self, pick: int, queued: bool) -> None:
        passage = self._case(pick, queued)
        if passage is not None:
            with suppress(DomainError):
                waive(self.uow, passage, actor="op", reason="checked on camera")

    @rule(pick=PICK, queued=st.booleans(), plate=st.sampled_from(PLATES))
    def review_correct(self, pick: int, queued: bool, plate: str) -> None:
        passage = self._case(pick, queued)
        if passage is not None:
            with suppress(DomainError):
                correct_plate(self.uow, passage, plate, actor="op")

    @rule(pick=st.integers(0, 50), part=st.sampled_from([None, 5_000]))
    def refund_fare(self, pick: int, part: int | None) -> None:
        with self.uow:
            fares = list(
                self.uow.session.scalars(
                    select(orm.JournalEntry.id)
                    .where(orm.JournalEntry.kind.in_(["fare", "pass"]))
                    .order_by(orm.JournalEntry.id)
                )
            )
        if not fares:
            return
        with suppress(DomainError):  # nothing left to refund
            refund(
                self.uow,
                fares[pick % len(fares)],
                key=f"rf-{uuid.uuid4().hex[:8]}",
                reason="complaint upheld",
                actor="op",
                amount_vnd=part,
            )

    # ------------------------------------------------------------------ invariants

    @invariant()
    def the_books_reconcile(self) -> None:
        records = DeliveryRecords(self.factory)
        for day in sorted(self.days):
            report = reconcile(self.uow, day, payments=records)
            assert report.trial_balance_vnd == 0
            assert report.mismatches == (), (day, report.mismatches)

    @invariant()
    def each_event_has_at_most_one_debit(self) -> None:
        with self.uow:
            s = self.uow.session
            twice = s.execute(
                select(orm.JournalEntry.event_id, func.count())
                .where(orm.JournalEntry.kind.in_(["fare", "pass"]))
                .group_by(orm.JournalEntry.event_id)
                .having(func.count() > 1)
            ).all()
            odd = s.scalar(
                select(func.count()).where(
                    orm.ParkingSession.payment == "charged",
                    orm.ParkingSession.status != "closed",
                )
            )
        assert twice == [] and odd == 0


# Sized for the suite's time (CI runs everything in well under 20 minutes); raise max_examples
# locally for a longer search. The timeout is generous because a loaded 2-core box runs these
# several times slower than a quiet one; the tests assert no timing.
RUNS = settings(
    max_examples=20,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.timeout(900)
def test_money_paths_on_sqlite() -> None:
    run_state_machine_as_test(MoneyPaths, settings=RUNS)


@contextmanager
def _pg_database() -> Iterator[str]:
    name = f"parking_sm_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.timeout(900)
def test_money_paths_on_postgresql() -> None:
    """Fewer examples: each starts from a schema the real migrations build."""
    with _pg_database() as url:
        engine: Engine = create_engine(url)

        def pg_world() -> tuple[sessionmaker[Session], Callable[[], None]]:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            migrate.upgrade(url)
            return make_session_factory(engine), lambda: None

        try:
            run_state_machine_as_test(
                lambda: MoneyPaths(pg_world),  # type: ignore[arg-type]
                settings=settings(RUNS, max_examples=6),
            )
        finally:
            engine.dispose()
