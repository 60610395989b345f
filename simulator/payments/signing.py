"""The provider's side of the signature scheme (docs/contracts.md): HMAC-SHA256 over
``"<unix seconds>." + body`` with the secret issued to the merchant, sent as
``X-Signature: sha256=<hex>`` with ``X-Signature-Timestamp``. The checkout redirect's fields
are signed the same way over their sorted, URL-encoded form."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import urlencode

WINDOW_S = 300


def _mac(secret: str, timestamp: str, payload: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + payload, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def webhook_headers(secret: str, body: bytes, key: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-Signature": _mac(secret, stamp, body),
        "X-Signature-Timestamp": stamp,
        "Idempotency-Key": key,
    }


def signed_by_merchant(secret: str, stamp: str | None, signature: str | None, body: bytes) -> bool:
    """A request from the merchant (a pull), signed within the window."""
    if not stamp or not signature or not stamp.isdigit():
        return False
    if abs(time.time() - int(stamp)) > WINDOW_S:
        return False
    return hmac.compare_digest(_mac(secret, stamp, body), signature)


def fields_signed_by_merchant(secret: str, fields: Mapping[str, str], max_age_s: int) -> bool:
    """A checkout redirect's fields (``ts`` and ``signature`` among them), at most
    ``max_age_s`` old: a driver may take a while on the page, not a day."""
    stamp, signature = fields.get("ts", ""), fields.get("signature", "")
    if not stamp.isdigit() or time.time() - int(stamp) > max_age_s:
        return False
    canonical = urlencode(sorted((k, v) for k, v in fields.items() if k != "signature"))
    return hmac.compare_digest(_mac(secret, stamp, canonical.encode()), signature)
