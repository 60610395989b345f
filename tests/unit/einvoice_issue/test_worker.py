from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Unpack

import pytest
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from einvoice.db import counters, invoices, status_history
from einvoice.worker import InvoiceWorker
from tests.unit.einvoice_issue.fakes import (
    FakeMaker,
    FakeOutbox,
    SellerFields,
    outbox,
    request_payload,
)

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 10:00 in Hanoi


def make_worker(
    session_factory: sessionmaker[Session], maker: FakeMaker | None = None, now: datetime = T0
) -> tuple[InvoiceWorker, FakeOutbox]:
    box = FakeOutbox()
    worker = InvoiceWorker(session_factory, maker or FakeMaker(), outbox=box, clock=lambda: now)
    return worker, box


def add_requests(
    session_factory: sessionmaker[Session],
    box: FakeOutbox,
    *event_ids: str,
    **seller: Unpack[SellerFields],
) -> None:
    with session_factory.begin() as s:
        for event_id in event_ids:
            box.add(s, "invoice_request", event_id, request_payload(event_id, **seller))


def test_worker_issues_numbered_signed_invoices_and_marks_rows(
    session_factory: sessionmaker[Session],
) -> None:
    worker, box = make_worker(session_factory)
    add_requests(session_factory, box, "ev-1", "ev-2", "ev-3")
    results = worker.run_once()
    assert [r.outcome for r in results] == ["issued"] * 3
    with session_factory() as s:
        rows = s.execute(select(invoices).order_by(invoices.c.number)).all()
        assert [(r.event_id, r.number, r.series, r.status) for r in rows] == [
            ("ev-1", 1, "C26MPK", "signed"),
            ("ev-2", 2, "C26MPK", "signed"),
            ("ev-3", 3, "C26MPK", "signed"),
        ]
        assert [r.mccqt for r in rows] == [f"M1-26-41849-{n:011d}" for n in (1, 2, 3)]
        assert rows[0].issue_date.isoformat() == "2026-03-02"
        assert rows[0].total_vnd == 25000
        assert rows[0].pretax_vnd + rows[0].vat_vnd == 25000
        # The stored XML is what the maker produced for this identity.
        assert etree.fromstring(rows[1].xml).findtext("SHDon") == "2"
        hist = s.execute(select(status_history.c.invoice_id, status_history.c.status)).all()
        assert sorted(hist) == [(r.id, "signed") for r in rows]
        unprocessed = s.execute(
            select(func.count()).select_from(outbox).where(outbox.c.processed_at.is_(None))
        ).scalar_one()
        assert unprocessed == 0


def test_same_event_twice_gives_one_invoice(session_factory: sessionmaker[Session]) -> None:
    worker, box = make_worker(session_factory)
    add_requests(session_factory, box, "ev-1")
    assert [r.outcome for r in worker.run_once()] == ["issued"]
    # The same request shows up again (e.g. a row re-queued by hand, or another outbox kind).
    with session_factory.begin() as s:
        s.execute(outbox.update().values(processed_at=None))
    again = worker.run_once()
    assert [r.outcome for r in again] == ["duplicate"]
    with session_factory() as s:
        assert s.execute(select(func.count()).select_from(invoices)).scalar_one() == 1
        assert s.execute(select(invoices.c.number)).scalar_one() == 1


def test_failed_request_burns_no_number_and_stays_queued(
    session_factory: sessionmaker[Session],
) -> None:
    maker = FakeMaker(fail_on={"ev-2"})
    worker, box = make_worker(session_factory, maker)
    ticks = {"now": 100.0}
    worker.monotonic = lambda: ticks["now"]
    add_requests(session_factory, box, "ev-1", "ev-2", "ev-3")
    results = worker.run_once()
    assert [(r.event_id, r.outcome) for r in results] == [
        ("ev-1", "issued"),
        ("ev-2", "failed"),
        ("ev-3", "issued"),
    ]
    assert "signing failed" in (results[1].error or "")
    with session_factory() as s:
        numbers = s.execute(
            select(invoices.c.event_id, invoices.c.number).order_by(invoices.c.number)
        ).all()
        assert numbers == [("ev-1", 1), ("ev-3", 2)]
        row = s.execute(select(outbox).where(outbox.c.key == "ev-2")).one()
        assert row.processed_at is None
        assert row.attempts == 1
        assert "signing failed" in row.last_error
    # Once the fault is gone the row is issued with the next number: no gap, nothing lost.
    maker.fail_on.clear()
    assert worker.run_once() == []  # but not before its pause (1 s after one failure) is over
    ticks["now"] += 1.01
    assert [r.outcome for r in worker.run_once()] == ["issued"]
    with session_factory() as s:
        assert (
            s.execute(select(invoices.c.number).where(invoices.c.event_id == "ev-2")).scalar_one()
            == 3
        )


class OutboxThatCannotRecordFailures:
    """Claims and marks rows processed, but has no ``mark_failed``."""

    def claim(self, session: Session, kind: str, limit: int) -> list[object]:
        return []

    def mark_processed(self, session: Session, row_id: int) -> None:
        return None


def test_an_outbox_that_cannot_record_failures_is_refused_at_once(
    session_factory: sessionmaker[Session],
) -> None:
    """A failure must be recorded on its row (attempts, last_error): an outbox that cannot do
    that is refused when the worker is made, not discovered when a row fails unrecorded."""
    from einvoice.corrections import CorrectionWorker

    for worker in (InvoiceWorker, CorrectionWorker):
        with pytest.raises(TypeError, match="mark_failed"):
            worker(session_factory, FakeMaker(), outbox=OutboxThatCannotRecordFailures())  # type: ignore[arg-type]


def test_bad_payload_is_reported_not_invoiced(session_factory: sessionmaker[Session]) -> None:
    worker, box = make_worker(session_factory)
    with session_factory.begin() as s:
        bad = request_payload("ev-bad", fare=0)
        box.add(s, "invoice_request", "ev-bad", bad)
        nosel = request_payload("ev-noseller")
        del nosel["seller"]
        box.add(s, "invoice_request", "ev-noseller", nosel)
    results = worker.run_once()
    assert [r.outcome for r in results] == ["failed", "failed"]
    assert "fare_vnd" in (results[0].error or "")
    assert "seller" in (results[1].error or "")
    with session_factory() as s:
        assert s.execute(select(func.count()).select_from(invoices)).scalar_one() == 0


def test_year_rollover_restarts_numbers_with_a_new_series(
    session_factory: sessionmaker[Session],
) -> None:
    box = FakeOutbox()
    clock = {"now": datetime(2026, 12, 31, 16, 59, tzinfo=UTC)}  # 23:59 on 31 Dec in Hanoi
    worker = InvoiceWorker(session_factory, FakeMaker(), outbox=box, clock=lambda: clock["now"])
    add_requests(session_factory, box, "ev-1", "ev-2")
    worker.run_once()
    clock["now"] = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 00:00 on 1 Jan 2027 in Hanoi
    add_requests(session_factory, box, "ev-3", "ev-4")
    worker.run_once()
    with session_factory() as s:
        rows = s.execute(
            select(
                invoices.c.event_id, invoices.c.series, invoices.c.number, invoices.c.mccqt
            ).order_by(invoices.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("ev-1", "C26MPK", 1, "M1-26-41849-00000000001"),
        ("ev-2", "C26MPK", 2, "M1-26-41849-00000000002"),
        ("ev-3", "C27MPK", 1, "M1-27-41849-00000000001"),
        ("ev-4", "C27MPK", 2, "M1-27-41849-00000000002"),
    ]


def test_authority_coded_seller_gets_t_series_and_no_code(
    session_factory: sessionmaker[Session],
) -> None:
    worker, box = make_worker(session_factory)
    add_requests(session_factory, box, "ev-1", invoice_mode="authority_coded")
    worker.run_once()
    with session_factory() as s:
        row = s.execute(select(invoices)).one()
    assert (row.series, row.number, row.mccqt, row.mode) == ("C26TPK", 1, None, "authority_coded")


def test_a_failing_row_waits_longer_after_each_failure(
    session_factory: sessionmaker[Session],
) -> None:
    maker = FakeMaker(fail_on={"ev-1"})
    worker, box = make_worker(session_factory, maker)
    ticks = {"now": 0.0}
    worker.monotonic = lambda: ticks["now"]
    add_requests(session_factory, box, "ev-1")
    tried_at = []
    for _ in range(400):  # 100 simulated seconds in steps of 0.25 s
        if worker.run_once():
            tried_at.append(ticks["now"])
        ticks["now"] += 0.25
    assert tried_at[:5] == [0.0, 1.0, 3.0, 7.0, 15.0]  # pauses of 1, 2, 4, 8 s ...
    with session_factory() as s:
        row = s.execute(select(outbox).where(outbox.c.key == "ev-1")).one()
    assert row.attempts == len(tried_at) and row.processed_at is None


def test_year_ending_while_numbering_retries_in_the_new_year(
    session_factory: sessionmaker[Session],
) -> None:
    times = iter(
        [
            datetime(2026, 12, 31, 16, 59, 59, tzinfo=UTC),  # 23:59:59 in Hanoi: series C26
            datetime(2026, 12, 31, 17, 0, 0, tzinfo=UTC),  # the year turned during numbering
        ]
    )
    box = FakeOutbox()
    late = datetime(2026, 12, 31, 17, 0, 1, tzinfo=UTC)
    worker = InvoiceWorker(
        session_factory,
        FakeMaker(),
        outbox=box,
        clock=lambda: next(times, late),
        retry_base_seconds=0,
    )
    add_requests(session_factory, box, "ev-1")
    [first] = worker.run_once()
    assert first.outcome == "failed" and "YearTurned" in (first.error or "")
    [second] = worker.run_once()
    assert second.outcome == "issued"
    with session_factory() as s:
        row = s.execute(select(invoices)).one()
        counters_left = s.execute(select(func.count()).select_from(counters)).scalar_one()
    assert (row.series, row.number, row.issue_date.isoformat()) == ("C27MPK", 1, "2027-01-01")
    assert counters_left == 2  # C27 invoice numbers and the 2027 MCCQT sequence only


def test_invoice_lines_name_their_event_as_a_field(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    """The worker knows no passage context: its lines carry the event id themselves, so the
    gateway's JSON logs tie an invoice (or its failure) to the passage like the consumer's."""
    worker, box = make_worker(session_factory)
    add_requests(session_factory, box, "ev-log-ok")
    with session_factory.begin() as s:
        box.add(s, "invoice_request", "ev-log-bad", request_payload("ev-log-bad", fare=0))
    with caplog.at_level(logging.INFO, logger="einvoice.worker"):
        worker.run_once()
    named = {(r.levelname, getattr(r, "event_id", None)) for r in caplog.records}
    assert ("INFO", "ev-log-ok") in named and ("ERROR", "ev-log-bad") in named
    # and the gateway's filter keeps it (it fills in the context only where a line has none)
    from gateway.logging import ContextFilter, passage_context

    record = next(r for r in caplog.records if getattr(r, "event_id", None) == "ev-log-ok")
    with passage_context("some-other-passage"):
        ContextFilter().filter(record)
    assert getattr(record, "event_id", None) == "ev-log-ok"
