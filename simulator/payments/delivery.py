"""Reporting payments to the merchant's webhook until it acknowledges them.

A payment is reported once with a fixed idempotency key and body; a delivery that fails (no
answer, a 5xx, a 429) is tried again with a growing pause, signed afresh each time (the
signature's timestamp must be recent). A 2xx is the end, and so is a 4xx the merchant means:
the merchant refused it and says why in its log. The thread stops when told to.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass

import httpx

from simulator.payments.book import Payment
from simulator.payments.config import ServiceConfig
from simulator.payments.signing import webhook_headers

log = logging.getLogger(__name__)


@dataclass
class _Delivery:
    payment: Payment
    attempts: int = 0
    due: float = 0.0


def webhook_body(payment: Payment) -> bytes:
    event = {
        "event": payment.event,
        "provider": payment.provider,
        "provider_txn_id": payment.txn_id,
        "reference": payment.reference,
        "amount_vnd": payment.amount_vnd,
    }
    if payment.account_id is not None:
        event["account_id"] = payment.account_id
    return json.dumps(event).encode()


class WebhookSender:
    def __init__(self, config: ServiceConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self._client = client or httpx.Client(timeout=10.0)
        self._queue: queue.Queue[_Delivery] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="payment-webhooks", daemon=True)
        self.delivered: list[str] = []  # transaction ids the merchant acknowledged
        self.given_up: list[str] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self._client.close()

    def report(self, payment: Payment) -> None:
        self._queue.put(_Delivery(payment))

    def _run(self) -> None:
        waiting: list[_Delivery] = []
        while not self._stop.is_set():
            with contextlib.suppress(queue.Empty):
                waiting.append(self._queue.get(timeout=0.1))
            now = time.monotonic()
            for d in [d for d in waiting if d.due <= now]:
                waiting.remove(d)
                if not self._send(d):
                    waiting.append(d)

    def _send(self, d: _Delivery) -> bool:
        """True when the delivery is done (acknowledged, refused for good, or given up)."""
        p = d.payment
        secret = self.config.by_name[p.provider].secret
        body = webhook_body(p)
        d.attempts += 1
        try:
            answer = self._client.post(
                self.config.webhook_url,
                content=body,
                headers=webhook_headers(secret, body, f"{p.provider}:{p.txn_id}"),
            )
            status = answer.status_code
        except httpx.HTTPError as exc:
            status, answer = 0, None
            log.info("webhook of %s: %s (attempt %d)", p.txn_id, exc, d.attempts)
        if 200 <= status < 300:
            self.delivered.append(p.txn_id)
            return True
        if 400 <= status < 500 and status != 429:
            log.warning(
                "webhook of %s refused by the merchant: %d %s",
                p.txn_id,
                status,
                answer.text[:200] if answer else "",
            )
            self.given_up.append(p.txn_id)
            return True
        if d.attempts >= self.config.max_attempts:
            log.error("webhook of %s given up after %d attempts", p.txn_id, d.attempts)
            self.given_up.append(p.txn_id)
            return True
        pause = min(self.config.retry_max_s, self.config.retry_base_s * 2 ** (d.attempts - 1))
        d.due = time.monotonic() + pause
        return False
