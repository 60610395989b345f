"""Pushes signed invoices to the tax authority and records what it answers.

Each invoice is put in a message (TDiep) whose id (MTDiep) is stored *before* the first send;
every retry posts the same bytes under the same id, and the authority answers a known id with
its stored answer, so a timeout followed by a resend never makes a second invoice. Retries back
off exponentially with jitter, first within one call, then across calls (``next_attempt_at``).

Cash-register invoices go in 206 messages (one right after issue; several in a batch resend),
authority-coded invoices one per 200 message; the answer is a 999 plus a 202 (the coded invoice
with the authority's countersignature) or a 204 (per-invoice results, rejections with reasons).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from einvoice import tdiep
from einvoice.client import RefusedError, Response, TransportError
from einvoice.db import (
    ACCEPTED,
    AUTHORITY_CODED,
    FINAL_STATUSES,
    REJECTED,
    SENT,
    SIGNED,
    invoices,
    messages,
    status_history,
    submission_attempts,
)

log = logging.getLogger(__name__)

PENDING = "pending"  # not answered yet: resend under the same id
ANSWERED = "answered"
REFUSED = "refused"  # the authority could not read it (999 "not received"): repack
ABANDONED = "abandoned"  # never reached the authority; its invoices went into a batch


class MessageSender(Protocol):
    def send(self, message: bytes) -> Response: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with "equal jitter": half the step fixed, half random."""

    attempts: int = 4  # tries within one call before giving the message back to the schedule
    base_seconds: float = 0.2
    max_seconds: float = 5.0
    # Between calls (``next_attempt_at``): the same curve on a longer scale.
    reschedule_base_seconds: float = 5.0
    reschedule_max_seconds: float = 900.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return _jittered(self.base_seconds, self.max_seconds, attempt, rng)

    def reschedule(self, attempt: int, rng: random.Random) -> float:
        return _jittered(self.reschedule_base_seconds, self.reschedule_max_seconds, attempt, rng)


def _jittered(base: float, cap: float, attempt: int, rng: random.Random) -> float:
    step = min(cap, base * 2 ** max(attempt - 1, 0))
    return step / 2 + rng.uniform(0, step / 2)


@dataclass(frozen=True)
class MessageOutcome:
    message_id: str
    message_type: int
    invoice_ids: tuple[int, ...]
    outcome: str  # answered | unanswered | refused | failed
    attempts: int
    error: str | None = None


@dataclass(frozen=True)
class SubmitSummary:
    messages: tuple[MessageOutcome, ...]
    accepted: int
    rejected: int
    pending: int


@dataclass
class Submitter:
    session_factory: sessionmaker[Session]
    client: MessageSender
    sender: str = "PARKING"  # MNGui
    receiver: str = "TCT"  # MNNhan: the authority's code
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    batch_size: int = 100
    max_message_bytes: int = 900 * 1024  # the authority takes about 1 MB per message
    verify_countersignature: bool = True
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    # --- entry points ----------------------------------------------------------------------

    def submit_due(
        self, invoice_ids: Sequence[int] | None = None, *, limit: int = 500, force: bool = False
    ) -> SubmitSummary:
        """Send every unanswered invoice whose retry time has come (or all, with ``force``)."""
        message_ids = self._prepare(invoice_ids, limit=limit, force=force)
        outcomes = tuple(self._deliver(mid) for mid in message_ids)
        return self._summary(outcomes)

    def resend_batch(self, *, limit: int = 5000) -> SubmitSummary:
        """Resend all unanswered invoices now: repack the unsent ones into 206 batches.

        Messages that never reached the authority (every attempt failed to connect) are
        abandoned and their cash-register invoices go into new batch messages; messages that
        may have arrived are resent unchanged under their own id, which is always safe.
        """
        self._abandon_unreached()
        return self.submit_due(limit=limit, force=True)

    # --- packing invoices into messages ------------------------------------------------------

    def _prepare(self, invoice_ids: Sequence[int] | None, *, limit: int, force: bool) -> list[str]:
        now = self.clock()
        with self.session_factory.begin() as session:
            stmt = select(
                invoices.c.id,
                invoices.c.mode,
                invoices.c.seller_tax_code,
                invoices.c.message_id,
                invoices.c.xml,
            ).where(invoices.c.status.in_((SIGNED, SENT)))
            if invoice_ids is not None:
                stmt = stmt.where(invoices.c.id.in_(list(invoice_ids)))
            if not force:
                stmt = stmt.where(
                    or_(invoices.c.next_attempt_at.is_(None), invoices.c.next_attempt_at <= now)
                )
            stmt = stmt.order_by(invoices.c.id).limit(limit)
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=invoices)
            rows = session.execute(stmt).all()
            ordered: list[str] = []
            unsent_cash: dict[str, list[Any]] = {}
            for row in rows:
                if row.message_id is not None:
                    if row.message_id not in ordered:
                        ordered.append(row.message_id)
                elif row.mode == AUTHORITY_CODED:
                    ordered.append(self._new_message(session, 200, row.seller_tax_code, [row]))
                else:
                    unsent_cash.setdefault(row.seller_tax_code, []).append(row)
            for tax_code, group in unsent_cash.items():
                for chunk in self._chunks(group):
                    ordered.append(self._new_message(session, 206, tax_code, chunk))
        return ordered

    def _chunks(self, rows: list[Any]) -> Iterable[list[Any]]:
        chunk: list[Any] = []
        size = 0
        for row in rows:
            if chunk and (
                len(chunk) >= self.batch_size or size + len(row.xml) > self.max_message_bytes
            ):
                yield chunk
                chunk, size = [], 0
            chunk.append(row)
            size += len(row.xml)
        if chunk:
            yield chunk

    def _new_message(self, session: Session, mtype: int, tax_code: str, rows: list[Any]) -> str:
        message_id = tdiep.new_message_id(self.sender)
        header = tdiep.Header(
            sender=self.sender,
            receiver=self.receiver,
            type=mtype,
            message_id=message_id,
            tax_code=tax_code,
            count=len(rows),
        )
        body = tdiep.build(header, [bytes(r.xml) for r in rows])
        session.execute(
            insert(messages).values(
                message_id=message_id,
                message_type=mtype,
                request_xml=body,
                state=PENDING,
                attempts=0,
                created_at=self.clock(),
            )
        )
        session.execute(
            update(invoices)
            .where(invoices.c.id.in_([r.id for r in rows]))
            .values(message_id=message_id, updated_at=self.clock())
        )
        return message_id

    def _abandon_unreached(self) -> None:
        with self.session_factory.begin() as session:
            reached = (
                select(submission_attempts.c.id)
                .where(
                    submission_attempts.c.message_id == messages.c.message_id,
                    submission_attempts.c.outcome != "connect_error",
                )
                .exists()
            )
            unreached = (
                session.execute(
                    select(messages.c.message_id).where(
                        messages.c.state == PENDING,
                        messages.c.message_type == 206,
                        messages.c.attempts > 0,
                        ~reached,
                    )
                )
                .scalars()
                .all()
            )
            if not unreached:
                return
            session.execute(
                update(messages).where(messages.c.message_id.in_(unreached)).values(state=ABANDONED)
            )
            session.execute(
                update(invoices)
                .where(invoices.c.message_id.in_(unreached), invoices.c.status == SIGNED)
                .values(message_id=None, updated_at=self.clock())
            )
            log.info("batch resend: %d unsent messages repacked", len(unreached))

    # --- sending ---------------------------------------------------------------------------

    def _deliver(self, message_id: str) -> MessageOutcome:
        with self.session_factory() as session:
            msg = session.execute(select(messages).where(messages.c.message_id == message_id)).one()
            invoice_ids = tuple(
                session.execute(
                    select(invoices.c.id)
                    .where(invoices.c.message_id == message_id)
                    .order_by(invoices.c.id)
                ).scalars()
            )
        attempts = 0
        error: str | None = None
        for attempt in range(1, self.policy.attempts + 1):
            attempts = attempt
            started = self.clock()
            t0 = time.perf_counter()
            try:
                response = self.client.send(bytes(msg.request_xml))
            except TransportError as exc:
                error = str(exc)
                outcome = "connect_error" if not exc.connected else "network_error"
                self._record_attempt(
                    message_id, msg.attempts + attempt, started, t0, exc.http_status, outcome, error
                )
                log.warning("message %s attempt %d: %s", message_id, attempt, error)
                if attempt < self.policy.attempts:
                    self.sleep(self.policy.delay(attempt, self.rng))
                continue
            except RefusedError as exc:
                error = str(exc)
                self._record_attempt(
                    message_id,
                    msg.attempts + attempt,
                    started,
                    t0,
                    exc.http_status,
                    "refused",
                    error,
                )
                self._give_back(message_id, invoice_ids, attempts, error)
                return MessageOutcome(
                    message_id, msg.message_type, invoice_ids, "failed", attempts, error
                )
            self._record_attempt(
                message_id,
                msg.attempts + attempt,
                started,
                t0,
                response.http_status,
                "answered",
                None,
            )
            outcome = self._apply(message_id, msg.message_type, response, attempts)
            return MessageOutcome(message_id, msg.message_type, invoice_ids, outcome, attempts)
        self._give_back(message_id, invoice_ids, attempts, error)
        return MessageOutcome(message_id, msg.message_type, invoice_ids, "failed", attempts, error)

    def _record_attempt(
        self,
        message_id: str,
        attempt: int,
        started: datetime,
        t0: float,
        http_status: int | None,
        outcome: str,
        error: str | None,
    ) -> None:
        with self.session_factory.begin() as session:
            session.execute(
                insert(submission_attempts).values(
                    message_id=message_id,
                    attempt=attempt,
                    started_at=started,
                    duration_ms=int((time.perf_counter() - t0) * 1000),
                    http_status=http_status,
                    outcome=outcome,
                    error=error[:2000] if error else None,
                )
            )

    def _give_back(
        self, message_id: str, invoice_ids: tuple[int, ...], attempts: int, error: str | None
    ) -> None:
        """No answer this time: count the call and schedule the next one, backing off."""
        now = self.clock()
        with self.session_factory.begin() as session:
            session.execute(
                update(messages)
                .where(messages.c.message_id == message_id)
                .values(attempts=messages.c.attempts + attempts, last_error=error)
            )
            for invoice_id in invoice_ids:
                calls = session.execute(
                    update(invoices)
                    .where(invoices.c.id == invoice_id)
                    .values(
                        submit_attempts=invoices.c.submit_attempts + 1,
                        last_error=error,
                        updated_at=now,
                    )
                    .returning(invoices.c.submit_attempts)
                ).scalar_one()
                delay = self.policy.reschedule(int(calls), self.rng)
                session.execute(
                    update(invoices)
                    .where(invoices.c.id == invoice_id)
                    .values(next_attempt_at=now + timedelta(seconds=delay))
                )

    # --- reading the answer ----------------------------------------------------------------

    def _apply(self, message_id: str, mtype: int, response: Response, attempts: int) -> str:
        reply = response.reply
        now = self.clock()
        with self.session_factory.begin() as session:
            rows = session.execute(
                select(
                    invoices.c.id,
                    invoices.c.status,
                    invoices.c.template,
                    invoices.c.series,
                    invoices.c.number,
                    invoices.c.submit_attempts,
                )
                .where(invoices.c.message_id == message_id)
                .order_by(invoices.c.id)
                .with_for_update()
            ).all()
            session.execute(
                update(messages)
                .where(messages.c.message_id == message_id)
                .values(attempts=messages.c.attempts + attempts, response_xml=response.body)
            )
            if not reply.ack.received:
                self._refused(session, message_id, rows, reply.ack.reasons, now)
                return "refused"
            for row in rows:
                if row.status == SIGNED:
                    self._set_status(session, row.id, SENT, message_id, now)
            result = reply.result
            if result is None:
                # Received, no business result yet: ask again later with the same id.
                self._ask_again(session, rows, now)
                return "unanswered"
            if result.header.type == tdiep.MessageType.CODED_INVOICE:
                self._apply_coded(session, message_id, rows, result, now)
            elif result.header.type == tdiep.MessageType.CHECK_RESULT:
                self._apply_check_result(session, message_id, rows, result, now)
            else:
                log.error("message %s: unexpected result type %s", message_id, result.header.type)
                return "unanswered"
            session.execute(
                update(messages)
                .where(messages.c.message_id == message_id)
                .values(state=ANSWERED, answered_at=now, last_error=None)
            )
        return "answered"

    def _refused(
        self,
        session: Session,
        message_id: str,
        rows: Sequence[Any],
        ack_reasons: Sequence[tdiep.Reason],
        now: datetime,
    ) -> None:
        """The authority did not take the message: its invoices go back to the queue."""
        reasons = _reasons(ack_reasons)
        text = "; ".join(f"{r['code']} {r['text']}" for r in reasons) or "not received"
        log.error("message %s refused by the authority: %s", message_id, text)
        session.execute(
            update(messages)
            .where(messages.c.message_id == message_id)
            .values(state=REFUSED, last_error=text, answered_at=now)
        )
        for row in rows:
            if row.status in FINAL_STATUSES:
                continue
            delay = self.policy.reschedule(row.submit_attempts + 1, self.rng)
            session.execute(
                update(invoices)
                .where(invoices.c.id == row.id)
                .values(
                    message_id=None,
                    submit_attempts=invoices.c.submit_attempts + 1,
                    last_error=f"message refused: {text}",
                    next_attempt_at=now + timedelta(seconds=delay),
                    updated_at=now,
                )
            )

    def _ask_again(self, session: Session, rows: Sequence[Any], now: datetime) -> None:
        """Received without a result yet: each open invoice asks again after its back-off."""
        for row in rows:
            if row.status not in FINAL_STATUSES:
                delay = self.policy.reschedule(row.submit_attempts + 1, self.rng)
                session.execute(
                    update(invoices)
                    .where(invoices.c.id == row.id)
                    .values(
                        submit_attempts=invoices.c.submit_attempts + 1,
                        next_attempt_at=now + timedelta(seconds=delay),
                        updated_at=now,
                    )
                )

    def _apply_coded(
        self,
        session: Session,
        message_id: str,
        rows: Sequence[Any],
        result: tdiep.Message,
        now: datetime,
    ) -> None:
        coded = result.invoices()
        if len(coded) != 1 or len(rows) != 1:
            raise ValueError(f"202 for {message_id} carries {len(coded)} invoices, expected 1")
        row = rows[0]
        if row.status in FINAL_STATUSES:
            return
        xml = tdiep.hdon_bytes(coded[0])
        mccqt = (coded[0].findtext("MCCQT") or "").strip()
        problem = None if mccqt else "202 without MCCQT"
        if problem is None and self.verify_countersignature:
            problem = _countersignature_problem(xml)
        if problem is not None:
            log.error("invoice %s: coded answer not usable: %s", row.id, problem)
            session.execute(
                update(invoices)
                .where(invoices.c.id == row.id)
                .values(last_error=f"coded invoice not usable: {problem}", updated_at=now)
            )
            return
        session.execute(
            update(invoices)
            .where(invoices.c.id == row.id)
            .values(authority_xml=xml, mccqt=mccqt, last_error=None, next_attempt_at=None)
        )
        self._set_status(session, row.id, ACCEPTED, message_id, now, {"mccqt": mccqt})

    def _apply_check_result(
        self,
        session: Session,
        message_id: str,
        rows: Sequence[Any],
        result: tdiep.Message,
        now: datetime,
    ) -> None:
        results = tdiep.parse_check_result(result)
        by_number = {(r.template, r.series, r.number): r for r in results}
        for index, row in enumerate(rows):
            if row.status in FINAL_STATUSES:
                continue
            found = by_number.get((row.template, row.series, row.number))
            if found is None and len(results) == len(rows):
                found = results[index]
            if found is None:
                log.warning("message %s: no result for invoice %s", message_id, row.id)
                continue
            if found.accepted:
                values: dict[str, Any] = {"last_error": None, "next_attempt_at": None}
                session.execute(update(invoices).where(invoices.c.id == row.id).values(**values))
                self._set_status(session, row.id, ACCEPTED, message_id, now, None)
            else:
                reasons = _reasons(found.reasons)
                text = "; ".join(f"{r['code']} {r['text']}" for r in reasons)
                session.execute(
                    update(invoices)
                    .where(invoices.c.id == row.id)
                    .values(last_error=text or "rejected", next_attempt_at=None)
                )
                self._set_status(session, row.id, REJECTED, message_id, now, {"reasons": reasons})
                log.warning("invoice %s rejected by the authority: %s", row.id, text)

    def _set_status(
        self,
        session: Session,
        invoice_id: int,
        status: str,
        message_id: str | None,
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        session.execute(
            update(invoices)
            .where(invoices.c.id == invoice_id)
            .values(status=status, updated_at=now)
        )
        session.execute(
            insert(status_history).values(
                invoice_id=invoice_id, status=status, at=now, message_id=message_id, detail=detail
            )
        )

    def _summary(self, outcomes: tuple[MessageOutcome, ...]) -> SubmitSummary:
        ids = [i for o in outcomes for i in o.invoice_ids]
        counts: dict[str, int] = {}
        if ids:
            with self.session_factory() as session:
                for status, n in session.execute(
                    select(invoices.c.status, func.count())
                    .where(invoices.c.id.in_(ids))
                    .group_by(invoices.c.status)
                ):
                    counts[status] = int(n)
        return SubmitSummary(
            outcomes,
            accepted=counts.get(ACCEPTED, 0),
            rejected=counts.get(REJECTED, 0),
            pending=counts.get(SIGNED, 0) + counts.get(SENT, 0),
        )


def _reasons(reasons: Iterable[tdiep.Reason]) -> list[dict[str, str]]:
    return [{"code": r.code, "text": r.text} for r in reasons]


def _countersignature_problem(xml: bytes) -> str | None:
    """None when the seller's and the authority's signatures both verify."""
    from einvoice.verify import verify_invoice  # the document side's verifier

    report = verify_invoice(xml)
    roles = {s.role: s for s in report.signatures}
    if not report.valid:
        return report.error or "signature verification failed"
    if "authority" not in roles:
        return "no authority countersignature"
    return None
