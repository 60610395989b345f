"""The gateway's side of the signed allow-list: build it per lot from billing, sign it, publish
it retained on ``lots/{lot}/allowlist``.

A lot's edge decides alone with it when the center is unreachable (``edge.offline``). Each lot's
list is rebuilt after money moved (the consumer kicks :meth:`AllowlistPublisher.publish_due`
when its outbox sweep published something) and republished when its content changed, or
every ``refresh_s`` so its age stays what an edge trusts. Versions are the publish time in
milliseconds, never less than the last one + 1: an edge refuses anything not newer than what
it holds. The signing key is the gateway's (``PARKING_ALLOWLIST_SIGNING_KEY``, or made once
under ``data_dir/secrets``); gate.toml carries the public half.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.allowlist import Allowlist, public_key_b64, sign_allowlist
from gateway.local_secrets import local_secret
from gateway.protocol import allowlist_topic
from gateway.settings import Settings

log = logging.getLogger(__name__)

QOS = 1


class Content(Protocol):
    """What the publisher reads of billing's AllowlistContent."""

    @property
    def lot_id(self) -> str: ...
    @property
    def max_fare_vnd(self) -> int: ...
    @property
    def cap_vnd(self) -> int: ...
    @property
    def credits(self) -> dict[str, int]: ...


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The allow-list signing key: the setting, or a seed made once in the data directory."""
    if settings.allowlist_signing_key:
        try:
            seed = base64.b64decode(settings.allowlist_signing_key, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("PARKING_ALLOWLIST_SIGNING_KEY is not base64") from None
        if len(seed) != 32:
            raise ValueError("PARKING_ALLOWLIST_SIGNING_KEY must be 32 bytes (base64)")
        return Ed25519PrivateKey.from_private_bytes(seed)
    secret = local_secret(settings.data_dir, "allowlist_signing_key")
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(secret.encode()).digest())


def public_key(settings: Settings) -> str:
    """For gate.toml's ``offline.allowlist_public_key``."""
    return public_key_b64(signing_key(settings))


@dataclass
class _Published:
    fingerprint: str
    version: int
    at: float  # time.monotonic()


class AllowlistPublisher:
    def __init__(
        self,
        client: Any,
        key: Ed25519PrivateKey,
        *,
        lots: Callable[[], list[str]],
        content: Callable[[str, datetime], Content],
        refresh_s: float = 60.0,
        min_gap_s: float = 2.0,
    ) -> None:
        self.client = client
        self.key = key
        self._lots = lots
        self._content = content
        self.refresh_s = refresh_s
        self.min_gap_s = min_gap_s
        self._last: dict[str, _Published] = {}
        self._checked = 0.0
        self._lock = threading.Lock()
        self.published = 0

    def publish_due(self, *, changed: bool = False) -> int:
        """Republish each lot's list whose content changed or that is ``refresh_s`` old.
        ``changed``: money moved (checked at most every ``min_gap_s``). Returns how many."""
        now = time.monotonic()
        with self._lock:
            if changed and now - self._checked < self.min_gap_s:
                return 0
            oldest = min((p.at for p in self._last.values()), default=0.0)
            if not changed and self._last and now - oldest < self.refresh_s:
                return 0
            self._checked = now
            sent = 0
            for lot in self._lots():
                try:
                    sent += self._publish_lot(lot, now)
                except Exception:  # one lot's failure must not stop the others
                    log.exception("allow-list of lot %s not published", lot)
            return sent

    def _publish_lot(self, lot: str, now: float) -> int:
        issued = datetime.now(UTC)
        content = self._content(lot, issued)
        fingerprint = hashlib.sha256(
            json.dumps(
                [content.max_fare_vnd, content.cap_vnd, sorted(content.credits.items())]
            ).encode()
        ).hexdigest()
        last = self._last.get(lot)
        if last is not None and last.fingerprint == fingerprint and now - last.at < self.refresh_s:
            return 0
        version = max(int(issued.timestamp() * 1000), (last.version + 1) if last else 0)
        payload = sign_allowlist(
            Allowlist(
                lot,
                version,
                issued,
                content.max_fare_vnd,
                content.cap_vnd,
                dict(content.credits),
            ),
            self.key,
        )
        self.client.publish(allowlist_topic(lot), payload, qos=QOS, retain=True)
        self._last[lot] = _Published(fingerprint, version, now)
        self.published += 1
        log.info(
            "allow-list of lot %s published: version %d, %d plates, %d bytes",
            lot,
            version,
            len(content.credits),
            len(payload),
        )
        return 1
