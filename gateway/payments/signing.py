"""HMAC signatures between us and a payment provider (Stripe-style: timestamp + body, SHA-256),
with the secret the provider gave us: on its webhooks to us, and on what we send it (the
checkout redirect's fields, a pull request for an auto top-up).

The timestamp is signed with the body so a captured delivery cannot be replayed later; the
idempotency key makes a legitimate redelivery harmless. The scheme is documented in
docs/contracts.md: a provider (the simulated ones in ``simulator.payments`` too) implements it
on its side.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import urlencode

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE_S = 300


class SignatureError(ValueError):
    pass


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(
    secret: str, body: bytes, idempotency_key: str, now: float | None = None
) -> dict[str, str]:
    ts = int(time.time() if now is None else now)
    return {
        SIGNATURE_HEADER: sign(secret, ts, body),
        TIMESTAMP_HEADER: str(ts),
        IDEMPOTENCY_HEADER: idempotency_key,
        "Content-Type": "application/json",
    }


def verify(
    secret: str, signature: str | None, timestamp: str | None, body: bytes, now: float | None = None
) -> None:
    if not signature or not timestamp:
        raise SignatureError("missing signature or timestamp header")
    try:
        ts = int(timestamp)
    except ValueError as exc:
        raise SignatureError("timestamp is not an integer") from exc
    current = time.time() if now is None else now
    if abs(current - ts) > TOLERANCE_S:
        raise SignatureError("timestamp outside the accepted window")
    if not hmac.compare_digest(sign(secret, ts, body), signature):
        raise SignatureError("signature does not match")


def canonical_fields(fields: Mapping[str, str]) -> bytes:
    """Query fields as one signed string: sorted, URL-encoded (the signature field left out)."""
    return urlencode(sorted((k, v) for k, v in fields.items() if k != "signature")).encode()


def sign_fields(secret: str, timestamp: int, fields: Mapping[str, str]) -> str:
    return sign(secret, timestamp, canonical_fields(fields))
