"""Several workers on real PostgreSQL and billing's real outbox: numbers 1..N, one per event."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.adapters import outbox
from billing.adapters.orm import OutboxRow
from billing.domain.events import InvoiceRequested
from einvoice import numbering
from einvoice.db import invoices
from einvoice.worker import LOCAL_TZ, InvoiceIdentity, InvoiceWorker, SignedInvoice
from tests.unit.einvoice_issue.fakes import FakeMaker, invoice_request, request_payload

pytestmark = pytest.mark.integration

WORKERS = 4
PER_WORKER = 200


class FlakyMaker(FakeMaker):
    """Fails the first attempt of about one request in ten, after the number was taken."""

    def __init__(self) -> None:
        super().__init__()
        self.failed_once: set[str] = set()
        self.lock = threading.Lock()
        self.rng = random.Random(7)

    def __call__(
        self, request: InvoiceRequested, identity: InvoiceIdentity, *, downward: bool = False
    ) -> SignedInvoice:
        with self.lock:
            fail = request.event_id not in self.failed_once and self.rng.random() < 0.1
            if fail:
                self.failed_once.add(request.event_id)
        if fail:
            raise RuntimeError("injected failure after numbering")
        return super().__call__(request, identity, downward=downward)


def run_workers(count: int, make: Any) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run() -> None:
        try:
            worker = make()
            start.wait()
            while worker.run_once(max_rows=50):
                pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert errors == []


@pytest.mark.slow
def test_four_workers_number_800_invoices_without_gaps_or_duplicates(
    pg_sessions: sessionmaker[Session],
) -> None:
    total = WORKERS * PER_WORKER
    with pg_sessions.begin() as s:
        for i in range(total):
            # Two series share the database: each counts on its own.
            hint = "PK" if i % 4 else "AB"
            payload = request_payload(f"ev-{i}", invoice_series=hint)
            outbox.add(s, InvoiceRequested.from_payload(payload))
    maker = FlakyMaker()
    now = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    run_workers(
        WORKERS,
        lambda: InvoiceWorker(
            pg_sessions, maker, clock=lambda: now, retry_base_seconds=0, outbox=outbox
        ),
    )
    assert maker.failed_once  # the injected failures did happen
    with pg_sessions() as s:
        assert s.execute(select(func.count()).select_from(invoices)).scalar_one() == total
        distinct = s.execute(select(func.count(func.distinct(invoices.c.event_id)))).scalar_one()
        assert distinct == total
        for series, expected in (("C26MPK", total * 3 // 4), ("C26MAB", total // 4)):
            numbers = (
                s.execute(select(invoices.c.number).where(invoices.c.series == series))
                .scalars()
                .all()
            )
            assert sorted(numbers) == list(range(1, expected + 1))
        codes = s.execute(select(invoices.c.mccqt)).scalars().all()
        assert sorted(int(c.rsplit("-", 1)[1]) for c in codes) == list(range(1, total + 1))
        assert outbox.pending(s, "invoice_request") == 0
        # Each failed first attempt was counted on its outbox row.
        failed_rows = s.execute(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.last_error.is_not(None))
        ).scalar_one()
        assert failed_rows == len(maker.failed_once)


def test_numbers_follow_commit_order_per_series(pg_sessions: sessionmaker[Session]) -> None:
    """A number is taken under the counter's row lock held to commit: ids and numbers agree."""
    with pg_sessions.begin() as s:
        for i in range(120):
            outbox.add(s, invoice_request(f"ev-{i}"))
    run_workers(3, lambda: InvoiceWorker(pg_sessions, FakeMaker(), outbox=outbox))
    with pg_sessions() as s:
        rows = s.execute(select(invoices.c.id, invoices.c.number).order_by(invoices.c.id)).all()
    assert [r.number for r in rows] == list(range(1, 121))


def test_same_outbox_row_twice_gives_one_invoice(pg_sessions: sessionmaker[Session]) -> None:
    with pg_sessions.begin() as s:
        outbox.add(s, invoice_request("ev-1"))
    worker = InvoiceWorker(pg_sessions, FakeMaker(), outbox=outbox)
    assert [r.outcome for r in worker.run_once()] == ["issued"]
    with pg_sessions.begin() as s:  # the row comes back (e.g. requeued by an operator)
        s.query(OutboxRow).update({OutboxRow.processed_at: None})
    assert [r.outcome for r in worker.run_once()] == ["duplicate"]
    with pg_sessions() as s:
        assert s.execute(select(func.count()).select_from(invoices)).scalar_one() == 1


def test_invoice_time_is_read_after_waiting_for_the_counter(
    pg_sessions: sessionmaker[Session],
) -> None:
    """Dates never go backwards as numbers go up: a waiting worker's time is after the commit."""
    with pg_sessions.begin() as s:
        outbox.add(s, invoice_request("ev-1"))
    year = datetime.now(UTC).astimezone(LOCAL_TZ).year
    series = f"C{year % 100:02d}MPK"
    holder = pg_sessions()
    holder.begin()
    assert numbering.next_invoice_number(holder, "1", series, year) == 1  # lock held
    worker = InvoiceWorker(pg_sessions, FakeMaker(), outbox=outbox)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    time.sleep(0.5)  # the worker now waits on the counter row
    released_at = datetime.now(UTC)
    holder.commit()
    holder.close()
    thread.join(timeout=30)
    with pg_sessions() as s:
        row = s.execute(select(invoices.c.number, invoices.c.issued_at)).one()
    assert row.number == 2
    assert row.issued_at >= released_at


def test_counter_on_postgresql_restarts_each_year_and_a_rollback_burns_nothing(
    pg_sessions: sessionmaker[Session],
) -> None:
    """The counter itself on PostgreSQL: per (template, series, year), 1 again in a new year,
    and a number taken in a transaction that rolls back is handed out again."""
    with pg_sessions.begin() as s:
        assert [numbering.next_invoice_number(s, "1", "C26MPK", 2026) for _ in range(3)] == [
            1,
            2,
            3,
        ]
    with pg_sessions() as s, s.begin():
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2026) == 4
        s.rollback()
    with pg_sessions.begin() as s:
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2026) == 4
        assert numbering.next_invoice_number(s, "1", "C27MPK", 2027) == 1  # the new year's series
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2027) == 1  # the year alone counts
        assert numbering.next_invoice_number(s, "2", "C26MPK", 2026) == 1  # and the template


def test_worker_on_postgresql_starts_the_new_year_at_one(
    pg_sessions: sessionmaker[Session],
) -> None:
    """Invoices on 31 December and 1 January (Hanoi time): the second year's series is new and
    numbered from 1, with the issue dates in the invoices' own years."""
    with pg_sessions.begin() as s:
        for i in range(5):
            outbox.add(s, invoice_request(f"ev-{i}"))
    old_year = datetime(2026, 12, 31, 16, 59, tzinfo=UTC)  # 23:59 on 31 Dec in Hanoi
    InvoiceWorker(pg_sessions, FakeMaker(), clock=lambda: old_year, outbox=outbox).run_once(
        max_rows=3
    )
    new_year = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 00:00 on 1 Jan 2027 in Hanoi
    InvoiceWorker(pg_sessions, FakeMaker(), clock=lambda: new_year, outbox=outbox).run_once()
    with pg_sessions() as s:
        rows = s.execute(
            select(
                invoices.c.series, invoices.c.number, invoices.c.issue_date, invoices.c.mccqt
            ).order_by(invoices.c.id)
        ).all()
    assert [(r.series, r.number) for r in rows] == [
        ("C26MPK", 1),
        ("C26MPK", 2),
        ("C26MPK", 3),
        ("C27MPK", 1),
        ("C27MPK", 2),
    ]
    assert {r.issue_date.year for r in rows[:3]} == {2026}
    assert {r.issue_date.year for r in rows[3:]} == {2027}
    assert [r.mccqt for r in rows[3:]] == ["M1-27-41849-00000000001", "M1-27-41849-00000000002"]
