"""Opens, keeps and clears operator alerts, and delivers each opening and clearing once.

Deduplicated by the condition's key: one open alert per key until its condition is gone, so a
gate that stays offline is one email and one webhook call, not one per check. Deliveries are
rows (``gw_alert_deliveries``) leased before they are sent and retried with capped exponential
backoff until they go or reach ``max_attempts``: an SMTP server or a webhook that is down
loses nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway import messages
from gateway.alerts.conditions import Condition, Thresholds, current
from gateway.alerts.webhook import WebhookSender
from gateway.notices.port import NoticeSender, OutgoingMessage, SendError
from gateway.orm import Alert, AlertDelivery

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Change:
    opened: tuple[int, ...]
    cleared: tuple[int, ...]


@dataclass
class AlertMonitor:
    session_factory: sessionmaker[Session]
    thresholds: Thresholds = field(default_factory=Thresholds)
    emails: Sequence[str] = ()
    email_sender: NoticeSender | None = None
    webhook: WebhookSender | None = None
    lease: timedelta = timedelta(minutes=1)
    retry_initial: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(minutes=30)
    max_attempts: int = 10
    clock: Callable[[], datetime] = _now

    def run_once(self) -> Change:
        change = self.evaluate()
        self.deliver_due()
        return change

    # ---------------------------------------------------------------- conditions -> alerts

    def _targets(self) -> list[tuple[str, str]]:
        out = [("email", e) for e in self.emails] if self.email_sender is not None else []
        if self.webhook is not None:
            out.append(("webhook", self.webhook.url))
        return out

    def evaluate(self) -> Change:
        now = self.clock()
        with self.session_factory() as s:
            found = {c.key: c for c in current(s, now, self.thresholds)}
            open_rows = {
                a.key: a for a in s.scalars(select(Alert).where(Alert.cleared_at.is_(None)))
            }
            opened: list[Alert] = []
            for key, cond in found.items():
                row = open_rows.get(key)
                if row is not None:
                    row.last_seen_at = now
                    if row.params != cond.params and cond.kind == "review_backlog":
                        row.params = cond.params  # the count moves; still one alert
                    continue
                opened.append(self._open(s, cond, now))
            cleared = [row for key, row in open_rows.items() if key not in found]
            for row in cleared:
                row.cleared_at = now
            s.flush()
            for row in opened:
                self._queue(s, row, "opened", now)
            for row in cleared:
                self._queue(s, row, "cleared", now)
            s.commit()
            change = Change(tuple(a.id for a in opened), tuple(a.id for a in cleared))
        for row in opened:
            log.warning("alert %s opened: %s", row.key, messages.text(row.code, "en", **row.params))
        for row in cleared:
            log.info("alert %s cleared", row.key)
        return change

    def _open(self, s: Session, cond: Condition, now: datetime) -> Alert:
        row = Alert(
            key=cond.key,
            kind=cond.kind,
            lot_id=cond.lot_id,
            code=cond.code,
            params=dict(cond.params),
            opened_at=now,
            last_seen_at=now,
        )
        s.add(row)
        return row

    def _queue(self, s: Session, alert: Alert, event: str, now: datetime) -> None:
        for channel, recipient in self._targets():
            s.add(
                AlertDelivery(
                    alert_id=alert.id,
                    event=event,
                    channel=channel,
                    recipient=recipient,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                )
            )

    # ---------------------------------------------------------------- deliveries

    def deliver_due(self) -> int:
        """Send what is due; returns how many went."""
        jobs = self._lease()
        results = [(d_id, self._send(d_id, *job)) for d_id, job in jobs]
        if results:
            self._record(results)
        return sum(1 for _, error in results if error is None)

    def _lease(self) -> list[tuple[int, tuple[str, str, str, dict[str, Any]]]]:
        now = self.clock()
        with self.session_factory() as s:
            stmt = (
                select(AlertDelivery, Alert)
                .join(Alert, Alert.id == AlertDelivery.alert_id)
                .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now)
                .order_by(AlertDelivery.id)
                .limit(50)
                .with_for_update(skip_locked=True, of=AlertDelivery)
            )
            jobs = []
            for d, alert in s.execute(stmt).all():
                d.next_attempt_at = now + self.lease
                d.attempts += 1
                jobs.append((d.id, (d.channel, d.recipient, d.event, payload(alert, d.event))))
            s.commit()
        return jobs

    def _send(
        self, delivery_id: int, channel: str, recipient: str, event: str, body: dict[str, Any]
    ) -> str | None:
        """None when it went, else the error."""
        try:
            if channel == "webhook" and self.webhook is not None:
                self.webhook.post(f"alert-delivery-{delivery_id}", body)
            elif channel == "email" and self.email_sender is not None:
                self.email_sender.send(email_of(delivery_id, recipient, event, body))
            else:
                return f"no sender for {channel}"
        except SendError as exc:
            log.warning("alert delivery %s (%s) not sent: %s", delivery_id, channel, exc)
            return str(exc)[:500]
        except Exception as exc:  # a broken adapter must not stop the others
            log.exception("alert delivery %s: sender failed", delivery_id)
            return f"{type(exc).__name__}: {exc}"[:500]
        return None

    def _record(self, results: list[tuple[int, str | None]]) -> None:
        now = self.clock()
        with self.session_factory() as s:
            for delivery_id, error in results:
                d = s.get(AlertDelivery, delivery_id)
                if d is None:
                    continue
                if error is None:
                    d.status, d.sent_at, d.last_error = "sent", now, None
                elif d.attempts >= self.max_attempts:
                    d.status, d.last_error = "failed", error
                else:
                    backoff = self.retry_initial * (2 ** max(d.attempts - 1, 0))
                    d.last_error, d.next_attempt_at = error, now + min(backoff, self.retry_max)
            s.commit()

    def run(self, stop: threading.Event, interval_s: float = 15.0) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("alert monitor failed; retrying")
            stop.wait(interval_s)


def text_of(alert: Alert, lang: messages.Lang) -> str:
    return messages.text(alert.code, lang, **alert.params)


def payload(alert: Alert, event: str) -> dict[str, Any]:
    """What the webhook receives (and the email says), in both languages."""
    return {
        "id": alert.id,
        "event": event,  # opened | cleared
        "kind": alert.kind,
        "key": alert.key,
        "lot_id": alert.lot_id,
        "params": alert.params,
        "text_vi": text_of(alert, "vi"),
        "text_en": text_of(alert, "en"),
        "opened_at": alert.opened_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
    }


def email_of(delivery_id: int, recipient: str, event: str, body: dict[str, Any]) -> OutgoingMessage:
    title = "alert_title" if event == "opened" else "alert_cleared_title"
    subject = f"{messages.text(title, 'vi')}: {body['text_vi']}"
    lines = [body["text_vi"], "", body["text_en"], "", f"{body['kind']} · {body['key']}"]
    if event == "cleared":
        lines.insert(0, messages.text("alert_cleared", "vi", text=""))
    return OutgoingMessage(
        "email", recipient, subject[:200], "\n".join(lines), f"alert-delivery-{delivery_id}"
    )


def from_settings(settings: Any, session_factory: sessionmaker[Session]) -> AlertMonitor:
    """The monitor ``parking worker`` and the demo run, configured by ``PARKING_ALERT_*``."""
    from gateway.notices import senders

    emails = [e.strip() for e in settings.alert_emails.split(",") if e.strip()]
    email_sender = senders.from_settings(settings).get("email") if emails else None
    if emails and email_sender is None:
        log.warning("PARKING_ALERT_EMAILS is set but PARKING_SMTP_HOST is not: no alert email")
    webhook = None
    if settings.alert_webhook_url:
        if not settings.alert_webhook_secret:
            raise ValueError("PARKING_ALERT_WEBHOOK_URL needs PARKING_ALERT_WEBHOOK_SECRET")
        webhook = WebhookSender(settings.alert_webhook_url, settings.alert_webhook_secret)
    return AlertMonitor(
        session_factory,
        Thresholds(
            review_backlog=settings.alert_review_backlog,
            gate_offline=timedelta(seconds=settings.alert_gate_offline_s),
            listed_window=timedelta(minutes=settings.alert_listed_window_min),
            rejected_window=timedelta(hours=settings.alert_rejected_window_h),
        ),
        emails=emails,
        email_sender=email_sender,
        webhook=webhook,
    )
