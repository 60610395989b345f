"""Sends what the notification outbox holds: takes due deliveries, hands each to its channel's
sender, and records the outcome.

At most once by us: a delivery is leased (``next_attempt_at`` moved past the send's longest
time) and committed before it is sent, so two workers never send the same one; a worker that
dies mid-send leaves a lease that expires, and the delivery is tried again. A failed send is
retried with capped exponential backoff until ``max_attempts``; then it is ``failed`` and the
portal says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway import messages
from gateway.notices import intake, invoice_mail
from gateway.notices.port import Attachment, Channel, NoticeSender, OutgoingMessage, SendError
from gateway.orm import Notice, NoticeDelivery

log = logging.getLogger(__name__)

# Codes that must not stay readable in the database once they have gone out.
SECRET_KINDS = frozenset({"signup_code", "reset_code"})
REDACTED = "••••••"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Sent:
    delivery_id: int
    ok: bool
    error: str | None = None


@dataclass
class NoticeWorker:
    session_factory: sessionmaker[Session]
    senders: Mapping[Channel, NoticeSender]
    receipt_window: timedelta = timedelta(hours=24)
    provider_names: Mapping[str, str] = field(default_factory=dict)
    lease: timedelta = timedelta(minutes=2)
    retry_initial: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(hours=1)
    max_attempts: int = 8
    batch: int = 50
    clock: Callable[[], datetime] = _now
    # Invoices emailed to buyers who asked (gateway.notices.invoice_mail): the lookup link's
    # base (PARKING_PUBLIC_URL) and the authority named on the PDF copy.
    public_url: str = ""
    authority_url: str = ""
    invoice_window: timedelta = timedelta(days=3)

    @property
    def channels(self) -> tuple[Channel, ...]:
        return tuple(self.senders)

    def run_once(self) -> list[Sent]:
        self.intake()
        return self.deliver_due()

    def intake(self) -> int:
        """Notices for new events of every source, each source in its own transaction."""
        now = self.clock()
        written = 0
        for source in (
            lambda s: intake.low_balance_notices(s, self.channels, now),
            lambda s: intake.trip_receipts(s, self.channels, now, self.receipt_window),
            lambda s: intake.topup_receipts(
                s, self.channels, now, self.receipt_window, dict(self.provider_names)
            ),
            lambda s: intake.credit_receipts(s, self.channels, now, self.receipt_window),
            lambda s: invoice_mail.invoice_emails(
                s, self.channels, now, self.invoice_window, self.public_url
            ),
        ):
            with self.session_factory() as s:
                written += source(s)
                s.commit()
        return written

    def deliver_due(self, notice_id: int | None = None) -> list[Sent]:
        """Send the deliveries that are due (only ``notice_id``'s when given)."""
        jobs = self._lease(notice_id)
        results = [self._send(delivery_id, message) for delivery_id, message in jobs]
        if results:
            self._record(results)
        return results

    def _lease(self, notice_id: int | None) -> list[tuple[int, OutgoingMessage]]:
        now = self.clock()
        with self.session_factory() as s:
            stmt = (
                select(NoticeDelivery, Notice)
                .join(Notice, Notice.id == NoticeDelivery.notice_id)
                .where(NoticeDelivery.status == "pending", NoticeDelivery.next_attempt_at <= now)
                .order_by(NoticeDelivery.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True, of=NoticeDelivery)
            )
            if notice_id is not None:
                stmt = stmt.where(NoticeDelivery.notice_id == notice_id)
            jobs = []
            for delivery, notice in s.execute(stmt).all():
                if delivery.channel not in self.senders:
                    continue
                delivery.next_attempt_at = now + self.lease
                delivery.attempts += 1
                jobs.append((delivery.id, render(notice, delivery, self._attachments(s, notice))))
            s.commit()
        return jobs

    def _attachments(self, session: Session, notice: Notice) -> tuple[Attachment, ...]:
        if notice.kind != invoice_mail.INVOICE_ISSUED:
            return ()
        return invoice_mail.invoice_attachments(
            session, notice, self.authority_url, self.public_url
        )

    def _send(self, delivery_id: int, message: OutgoingMessage) -> Sent:
        try:
            self.senders[message.channel].send(message)
        except SendError as exc:
            log.warning("notice %s not sent: %s", message.message_id, exc)
            return Sent(delivery_id, False, str(exc)[:500])
        except Exception as exc:  # a broken adapter must not stop the others
            log.exception("notice %s: sender failed", message.message_id)
            return Sent(delivery_id, False, f"{type(exc).__name__}: {exc}"[:500])
        return Sent(delivery_id, True)

    def _record(self, results: list[Sent]) -> None:
        now = self.clock()
        with self.session_factory() as s:
            touched: set[int] = set()
            for r in results:
                delivery = s.get(NoticeDelivery, r.delivery_id)
                if delivery is None:
                    continue
                touched.add(delivery.notice_id)
                if r.ok:
                    delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
                elif delivery.attempts >= self.max_attempts:
                    delivery.status, delivery.last_error = "failed", r.error
                else:
                    delivery.last_error = r.error
                    delivery.next_attempt_at = now + self._backoff(delivery.attempts)
            for notice_id in touched:
                _redact_when_done(s, notice_id)
            s.commit()

    def _backoff(self, attempts: int) -> timedelta:
        return min(self.retry_initial * (2 ** max(attempts - 1, 0)), self.retry_max)

    def run(self, stop: threading.Event, interval_s: float = 2.0) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("notice worker failed; retrying")
            stop.wait(interval_s)


def render(
    notice: Notice, delivery: NoticeDelivery, attachments: tuple[Attachment, ...] = ()
) -> OutgoingMessage:
    """The catalogue's title and text for the notice, in its language; files go by email only."""
    channel: Channel = delivery.channel  # type: ignore[assignment]
    return OutgoingMessage(
        channel=channel,
        recipient=delivery.recipient,
        subject=messages.text(f"{notice.code}_title", notice.lang, **notice.params),
        body=messages.text(notice.code, notice.lang, **notice.params),
        message_id=f"{notice.key}/{delivery.channel}/{delivery.recipient}",
        attachments=attachments if channel == "email" else (),
    )


def _redact_when_done(session: Session, notice_id: int) -> None:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.kind not in SECRET_KINDS:
        return
    pending = session.scalar(
        select(NoticeDelivery.id).where(
            NoticeDelivery.notice_id == notice_id, NoticeDelivery.status == "pending"
        )
    )
    if pending is None and "code" in notice.params:
        notice.params = {**notice.params, "code": REDACTED}
