from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Unpack

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from einvoice import tdiep
from einvoice.client import TaxAuthorityClient
from einvoice.db import invoices, messages, status_history, submission_attempts
from einvoice.submitter import RetryPolicy, Submitter
from einvoice.worker import InvoiceWorker
from tests.unit.einvoice_issue.fake_authority import FakeAuthority
from tests.unit.einvoice_issue.fakes import FakeMaker, FakeOutbox, SellerFields, request_payload

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def issue(
    session_factory: sessionmaker[Session],
    clock: Clock,
    *event_ids: str,
    **seller: Unpack[SellerFields],
) -> list[int]:
    box = FakeOutbox()
    with session_factory.begin() as s:
        for event_id in event_ids:
            box.add(s, "invoice_request", event_id, request_payload(event_id, **seller))
    results = InvoiceWorker(session_factory, FakeMaker(), outbox=box, clock=clock).run_once()
    return [r.invoice_id for r in results if r.invoice_id is not None]


def make_submitter(
    session_factory: sessionmaker[Session], authority: FakeAuthority, clock: Clock
) -> tuple[Submitter, list[float]]:
    sleeps: list[float] = []
    client = TaxAuthorityClient(
        "http://authority.test", http=httpx.Client(transport=authority.transport())
    )
    submitter = Submitter(
        session_factory,
        client,
        clock=clock,
        sleep=sleeps.append,
        rng=random.Random(1),
        verify_countersignature=False,
    )
    return submitter, sleeps


def history(session_factory: sessionmaker[Session], invoice_id: int) -> list[str]:
    with session_factory() as s:
        return list(
            s.execute(
                select(status_history.c.status)
                .where(status_history.c.invoice_id == invoice_id)
                .order_by(status_history.c.id)
            ).scalars()
        )


def test_cash_register_invoices_are_sent_in_one_206_and_accepted(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock()
    ids = issue(session_factory, clock, "ev-1", "ev-2", "ev-3")
    authority = FakeAuthority()
    submitter, sleeps = make_submitter(session_factory, authority, clock)
    summary = submitter.submit_due()
    assert (summary.accepted, summary.rejected, summary.pending) == (3, 0, 0)
    assert len(summary.messages) == 1 and summary.messages[0].message_type == 206
    assert len(authority.invoices) == 3
    assert sleeps == []
    for invoice_id in ids:
        assert history(session_factory, invoice_id) == ["signed", "sent", "accepted"]
    with session_factory() as s:
        sent = s.execute(select(messages.c.request_xml)).scalar_one()
    message = tdiep.parse(sent)
    assert (message.header.type, message.header.count, message.header.tax_code) == (
        206,
        3,
        "0101234567",
    )


def test_one_invoice_is_sent_at_once_on_its_own(session_factory: sessionmaker[Session]) -> None:
    clock = Clock()
    ids = issue(session_factory, clock, "ev-1", "ev-2")
    authority = FakeAuthority()
    submitter, _ = make_submitter(session_factory, authority, clock)
    summary = submitter.submit_due(invoice_ids=[ids[1]])
    assert summary.accepted == 1
    assert history(session_factory, ids[0]) == ["signed"]
    assert history(session_factory, ids[1]) == ["signed", "sent", "accepted"]


def test_transient_faults_are_retried_under_the_same_message_id(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock()
    [invoice_id] = issue(session_factory, clock, "ev-1")
    authority = FakeAuthority()
    authority.faults.extend(["connect", "503", "drop_after"])
    submitter, sleeps = make_submitter(session_factory, authority, clock)
    summary = submitter.submit_due()
    assert summary.accepted == 1
    assert len(set(authority.requests)) == 1 and len(authority.requests) == 4
    assert len(authority.invoices) == 1  # the answer lost after processing made no second one
    # Backoff: each wait within [step/2, step] of a doubling step.
    policy = RetryPolicy()
    for attempt, waited in enumerate(sleeps, start=1):
        step = min(policy.max_seconds, policy.base_seconds * 2 ** (attempt - 1))
        assert step / 2 <= waited <= step
    assert len(sleeps) == 3
    with session_factory() as s:
        outcomes = (
            s.execute(select(submission_attempts.c.outcome).order_by(submission_attempts.c.id))
            .scalars()
            .all()
        )
    assert outcomes == ["connect_error", "network_error", "network_error", "answered"]
    assert history(session_factory, invoice_id) == ["signed", "sent", "accepted"]


def test_unreachable_authority_reschedules_with_backoff_then_resends_same_id(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock()
    [invoice_id] = issue(session_factory, clock, "ev-1")
    authority = FakeAuthority()
    authority.faults.extend(["drop_after"] * 4)  # processed, but every answer is lost
    submitter, _ = make_submitter(session_factory, authority, clock)
    summary = submitter.submit_due()
    assert summary.pending == 1 and summary.messages[0].outcome == "failed"
    with session_factory() as s:
        row = s.execute(select(invoices).where(invoices.c.id == invoice_id)).one()
    assert row.status == "signed" and row.submit_attempts == 1
    assert row.next_attempt_at > clock.now
    assert "timed out" in row.last_error
    # Not due yet: nothing is sent.
    assert submitter.submit_due().messages == ()
    clock.now = row.next_attempt_at + timedelta(seconds=1)
    summary = submitter.submit_due()
    assert summary.accepted == 1
    assert set(authority.requests) == {row.message_id}
    assert len(authority.invoices) == 1


def test_rejected_invoice_keeps_the_authoritys_reasons(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock()
    ids = issue(session_factory, clock, "ev-1", "ev-2")
    authority = FakeAuthority(reject_numbers={2})
    submitter, _ = make_submitter(session_factory, authority, clock)
    summary = submitter.submit_due()
    assert (summary.accepted, summary.rejected) == (1, 1)
    assert history(session_factory, ids[1]) == ["signed", "sent", "rejected"]
    with session_factory() as s:
        detail = s.execute(
            select(status_history.c.detail).where(
                status_history.c.invoice_id == ids[1], status_history.c.status == "rejected"
            )
        ).scalar_one()
        row = s.execute(select(invoices).where(invoices.c.id == ids[1])).one()
    assert detail == {"reasons": [{"code": "E109", "text": "VAT wrong"}]}
    assert row.status == "rejected" and "E109" in row.last_error
    # A rejected invoice is final: nothing is sent for it again.
    assert submitter.submit_due(force=True).messages == ()


def test_authority_coded_invoice_gets_its_code_and_coded_xml(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock()
    [invoice_id] = issue(session_factory, clock, "ev-1", invoice_mode="authority_coded")
    authority = FakeAuthority()
    submitter, _ = make_submitter(session_factory, authority, clock)
    summary = submitter.submit_due()
    assert summary.accepted == 1 and summary.messages[0].message_type == 200
    with session_factory() as s:
        row = s.execute(select(invoices).where(invoices.c.id == invoice_id)).one()
    assert row.mccqt == "AUTHCODE000000000000001"
    assert b"AUTHCODE000000000000001" in row.authority_xml
    assert history(session_factory, invoice_id) == ["signed", "sent", "accepted"]


def test_unreadable_message_is_repacked_under_a_new_id(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock()
    [invoice_id] = issue(session_factory, clock, "ev-1")
    authority = FakeAuthority()
    authority.faults.append("unreadable")
    submitter, _ = make_submitter(session_factory, authority, clock)
    first = submitter.submit_due()
    assert first.messages[0].outcome == "refused" and first.pending == 1
    clock.now += timedelta(hours=1)
    second = submitter.submit_due()
    assert second.accepted == 1
    assert first.messages[0].message_id != second.messages[0].message_id
    with session_factory() as s:
        states = dict(s.execute(select(messages.c.message_id, messages.c.state)).all())
    assert states == {
        first.messages[0].message_id: "refused",
        second.messages[0].message_id: "answered",
    }
    assert history(session_factory, invoice_id) == ["signed", "sent", "accepted"]


def test_ack_without_result_marks_sent_then_asks_again(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock()
    [invoice_id] = issue(session_factory, clock, "ev-1")
    authority = FakeAuthority()
    submitter, _ = make_submitter(session_factory, authority, clock)
    submitter._prepare([invoice_id], limit=10, force=False)
    with session_factory() as s:
        message_id = s.execute(select(invoices.c.message_id)).scalar_one()
    authority.no_result_once.add(message_id)
    first = submitter.submit_due()
    assert first.messages[0].outcome == "unanswered"
    assert history(session_factory, invoice_id) == ["signed", "sent"]
    authority.answers.clear()  # the real authority would answer with the result by now
    second = submitter.submit_due(force=True)
    assert second.accepted == 1 and second.messages[0].message_id == message_id
    assert history(session_factory, invoice_id) == ["signed", "sent", "accepted"]


def test_batch_resend_packs_unsent_invoices_into_one_message(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock()
    ids = issue(session_factory, clock, "ev-1", "ev-2", "ev-3")
    authority = FakeAuthority()
    authority.faults.extend(["connect"] * 12)  # down while each is sent at once
    submitter, _ = make_submitter(session_factory, authority, clock)
    for invoice_id in ids:
        assert submitter.submit_due(invoice_ids=[invoice_id]).pending == 1
    summary = submitter.resend_batch()
    assert summary.accepted == 3
    assert len(summary.messages) == 1 and summary.messages[0].invoice_ids == tuple(ids)
    with session_factory() as s:
        states = sorted(s.execute(select(messages.c.state)).scalars())
    assert states == ["abandoned", "abandoned", "abandoned", "answered"]


def test_batch_resend_reuses_the_id_of_a_message_that_may_have_arrived(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock()
    issue(session_factory, clock, "ev-1")
    authority = FakeAuthority()
    authority.faults.extend(["drop_after"] * 4)
    submitter, _ = make_submitter(session_factory, authority, clock)
    first = submitter.submit_due()
    summary = submitter.resend_batch()
    assert summary.accepted == 1
    assert summary.messages[0].message_id == first.messages[0].message_id
    assert len(authority.invoices) == 1


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 8, 20])
def test_backoff_grows_and_is_capped(attempt: int) -> None:
    policy = RetryPolicy()
    rng = random.Random(attempt)
    waits = [policy.reschedule(attempt, rng) for _ in range(50)]
    step = min(policy.reschedule_max_seconds, policy.reschedule_base_seconds * 2 ** (attempt - 1))
    assert all(step / 2 <= w <= step for w in waits)
    assert len(set(waits)) > 1  # jitter: not all the same


def test_unreadable_answer_is_retried_like_a_network_fault(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock()
    issue(session_factory, clock, "ev-1")
    authority = FakeAuthority()
    authority.faults.extend(["garbage", "503"])
    submitter, sleeps = make_submitter(session_factory, authority, clock)
    summary = submitter.submit_due()
    assert summary.accepted == 1 and len(sleeps) == 2
    with session_factory() as s:
        rows = s.execute(
            select(submission_attempts.c.http_status, submission_attempts.c.error).order_by(
                submission_attempts.c.id
            )
        ).all()
    assert [r.http_status for r in rows] == [200, 503, 200]
    assert "unreadable answer" in rows[0].error
