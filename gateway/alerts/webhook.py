"""Alerts POSTed to the operator's webhook, signed so the receiver knows they are ours.

``X-Parking-Signature: sha256=<hex>`` is HMAC-SHA256 with ``PARKING_ALERT_WEBHOOK_SECRET``
over ``<X-Parking-Timestamp>.<body>``; a receiver recomputes it and refuses an old timestamp.
``X-Parking-Delivery`` is the same for every attempt at one delivery (drop repeats by it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from gateway.notices.port import SendError


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class WebhookSender:
    url: str
    secret: str
    timeout_s: float = 5.0

    def post(self, delivery_id: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        stamp = str(int(time.time()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Parking-Timestamp": stamp,
                "X-Parking-Signature": signature(self.secret, stamp, body),
                "X-Parking-Delivery": delivery_id,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                if not 200 <= answer.status < 300:
                    raise SendError(f"webhook answered {answer.status}")
        except urllib.error.HTTPError as exc:
            raise SendError(f"webhook answered {exc.code}") from exc
        except (OSError, urllib.error.URLError) as exc:
            raise SendError(f"webhook {self.url}: {exc}") from exc
