"""The signed allow-list: which plates a lot's edge may let through alone, and with what credit.

The gateway publishes one per lot (retained on ``lots/{lot}/allowlist``): the plate keys of the
vehicles whose account is active, each with an offline credit (the smaller of the account's
balance and the lot's cap), and the lot's maximum fare (what one exit may cost). The edge uses
it only while the center cannot answer (``edge.offline``).

Why signed: the broker is shared by every gate of every lot, and an allow-list that anyone able
to publish could write would open every barrier. The gateway signs the body with its Ed25519 key
(kept in its secrets); the edge has the public key in gate.toml and refuses a list whose
signature does not verify, whose lot is not its own, whose version is not newer than the one it
holds (a replayed old list would restore spent credit), or that is larger than
:data:`MAX_ALLOWLIST_BYTES`. Every refusal is logged and counted by the caller.

Wire form (JSON, UTF-8)::

    {"v": 1, "body": "<base64 of the body's JSON>", "sig": "<base64 of Ed25519(body)>"}

and the body::

    {"v": 1, "lot_id": "L1", "version": 1765000000123, "issued_at": "2026-12-06T09:00:00Z",
     "max_fare_vnd": 500000, "cap_vnd": 200000, "entries": [["30A12345", 150000], ...]}

The signature covers the exact body bytes, so nothing needs a canonical JSON form. This module
is shared: the gateway imports :func:`sign_allowlist`, the edge :func:`verify_allowlist`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# One retained message: ~25 bytes an entry, so about 40,000 plates; a lot with more gets its
# highest credits first (the gateway logs what it left out).
MAX_ALLOWLIST_BYTES = 1024 * 1024
MAX_ENTRIES = 40_000
MAX_CREDIT_VND = 100_000_000
_KEY_RE = re.compile(r"^[0-9A-Z]{4,12}$")


class AllowlistRefused(ValueError):
    """An allow-list the edge will not use; ``code`` is stable for logs and metrics."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Allowlist:
    lot_id: str
    version: int  # strictly increasing per lot (the gateway's clock in ms, or the last + 1)
    issued_at: datetime
    max_fare_vnd: int  # the most one exit may cost at this lot (a 24-hour stay)
    cap_vnd: int  # the lot's cap on a plate's offline credit
    credits: dict[str, int]  # plate key -> offline credit (VND)

    def credit(self, plate_key: str) -> int | None:
        """The plate's offline credit, or None when it is not on the list."""
        return self.credits.get(plate_key)

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.issued_at).total_seconds()


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The public half, as gate.toml's ``offline.allowlist_public_key`` takes it."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public_key(b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))


def sign_allowlist(allowlist: Allowlist, key: Ed25519PrivateKey) -> bytes:
    """The retained message for ``allowlist``; ValueError when it would be over the limit."""
    for plate, credit in allowlist.credits.items():
        if not _KEY_RE.fullmatch(plate) or not 0 <= credit <= MAX_CREDIT_VND:
            raise ValueError(f"bad allow-list entry {plate!r}: {credit}")
    body = json.dumps(
        {
            "v": FORMAT_VERSION,
            "lot_id": allowlist.lot_id,
            "version": allowlist.version,
            "issued_at": allowlist.issued_at.astimezone(UTC).isoformat(),
            "max_fare_vnd": allowlist.max_fare_vnd,
            "cap_vnd": allowlist.cap_vnd,
            "entries": sorted(allowlist.credits.items()),
        },
        separators=(",", ":"),
    ).encode()
    message = json.dumps(
        {
            "v": FORMAT_VERSION,
            "body": base64.b64encode(body).decode(),
            "sig": base64.b64encode(key.sign(body)).decode(),
        },
        separators=(",", ":"),
    ).encode()
    if len(message) > MAX_ALLOWLIST_BYTES:
        raise ValueError(f"allow-list is {len(message)} bytes (limit {MAX_ALLOWLIST_BYTES})")
    return message


def verify_allowlist(payload: bytes, public_key: Ed25519PublicKey, lot_id: str) -> Allowlist:
    """The allow-list in ``payload`` if it is this lot's and signed by ``public_key``.

    Raises :class:`AllowlistRefused` (``too_large``, ``malformed``, ``bad_signature``,
    ``wrong_lot``). Versions are the caller's to compare (:class:`AllowlistStore`).
    """
    if len(payload) > MAX_ALLOWLIST_BYTES:
        raise AllowlistRefused("too_large", f"{len(payload)} bytes (limit {MAX_ALLOWLIST_BYTES})")
    try:
        outer = json.loads(payload)
        body = base64.b64decode(outer["body"], validate=True)
        sig = base64.b64decode(outer["sig"], validate=True)
        if outer.get("v") != FORMAT_VERSION:
            raise AllowlistRefused("malformed", f"unknown format version {outer.get('v')!r}")
    except AllowlistRefused:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise AllowlistRefused("malformed", f"not an allow-list message ({exc})") from None
    try:
        public_key.verify(sig, body)
    except InvalidSignature:
        raise AllowlistRefused("bad_signature", "signature does not verify") from None
    try:
        return _parse_body(json.loads(body), lot_id)
    except AllowlistRefused:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise AllowlistRefused("malformed", f"bad body ({exc})") from None


def _parse_body(raw: dict[str, Any], lot_id: str) -> Allowlist:
    if raw["v"] != FORMAT_VERSION:
        raise AllowlistRefused("malformed", f"unknown body version {raw['v']!r}")
    if raw["lot_id"] != lot_id:
        raise AllowlistRefused("wrong_lot", f"for lot {raw['lot_id']!r}, this is {lot_id!r}")
    entries = raw["entries"]
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise AllowlistRefused("too_large", f"more than {MAX_ENTRIES} entries")
    credits: dict[str, int] = {}
    for plate, credit in entries:
        if (
            not isinstance(plate, str)
            or not _KEY_RE.fullmatch(plate)
            or not isinstance(credit, int)
            or isinstance(credit, bool)
            or not 0 <= credit <= MAX_CREDIT_VND
        ):
            raise AllowlistRefused("malformed", f"bad entry {plate!r}: {credit!r}")
        credits[plate] = credit
    version, max_fare, cap = raw["version"], raw["max_fare_vnd"], raw["cap_vnd"]
    for name, value in (("version", version), ("max_fare_vnd", max_fare), ("cap_vnd", cap)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise AllowlistRefused("malformed", f"{name} {value!r} is not a whole number >= 0")
    issued_at = datetime.fromisoformat(raw["issued_at"])
    if issued_at.tzinfo is None:
        raise AllowlistRefused("malformed", "issued_at has no UTC offset")
    return Allowlist(lot_id, version, issued_at, max_fare, cap, credits)


class AllowlistStore:
    """The newest accepted allow-list of a lot, kept on disk (the verbatim signed message) so
    an edge restarted during an outage still has it, verified again at load."""

    def __init__(self, path: Path, public_key: Ed25519PublicKey, lot_id: str) -> None:
        self.path = path
        self.public_key = public_key
        self.lot_id = lot_id
        self.current: Allowlist | None = None
        self._load()

    def _load(self) -> None:
        try:
            payload = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error(
                "allow-list %s cannot be read (%s): waiting for the gateway's", self.path, exc
            )
            return
        try:
            self.current = verify_allowlist(payload, self.public_key, self.lot_id)
        except AllowlistRefused as exc:
            log.error(
                "allow-list kept in %s refused (%s): waiting for the gateway's", self.path, exc
            )
            return
        log.info(
            "allow-list version %d of %s loaded from %s (%d plates)",
            self.current.version,
            self.current.issued_at.isoformat(),
            self.path,
            len(self.current.credits),
        )

    def offer(self, payload: bytes) -> Allowlist | None:
        """Take ``payload`` if it is valid and newer: the new list, None for the same version
        again (a retained message redelivered on reconnect); AllowlistRefused otherwise
        (``stale`` for an older version)."""
        allowlist = verify_allowlist(payload, self.public_key, self.lot_id)
        current = self.current
        if current is not None:
            if allowlist.version == current.version:
                return None
            if allowlist.version < current.version:
                raise AllowlistRefused(
                    "stale", f"version {allowlist.version} is older than {current.version}"
                )
        tmp = self.path.with_suffix(".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(payload)
        os.replace(tmp, self.path)
        self.current = allowlist
        return allowlist
