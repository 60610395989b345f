"""Codes sent to a phone to prove it is the person's: sign-up and password reset.

Six digits, valid ten minutes, five tries; a new code at most once a minute and five an hour per
number and purpose. Only an HMAC of the code is stored. The browser carries a random token
between the steps, never the phone number or a row id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.orm import Verification

Purpose = Literal["signup", "reset"]
CODE_TTL = timedelta(minutes=10)
MAX_TRIES = 5
RESEND_AFTER = timedelta(seconds=60)
MAX_PER_HOUR = 5


class VerificationError(Exception):
    """``code`` is the message catalogue's; ``params`` fill it."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Issued:
    verification: Verification
    code: str  # to send, never to store


def _digest(secret: str, token: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{token}:{code}".encode(), hashlib.sha256).hexdigest()


def issue(
    session: Session,
    secret: str,
    purpose: Purpose,
    phone: str,
    payload: dict[str, Any],
    now: datetime,
) -> Issued:
    """A new code for ``phone``; earlier ones of the same purpose stop working."""
    recent = session.scalars(
        select(Verification.created_at).where(
            Verification.phone == phone,
            Verification.purpose == purpose,
            Verification.created_at >= now - timedelta(hours=1),
        )
    ).all()
    if recent:
        wait = RESEND_AFTER - (now - max(recent))
        if wait > timedelta(0):
            raise VerificationError("code_wait", seconds=int(wait.total_seconds()) + 1)
        if len(recent) >= MAX_PER_HOUR:
            oldest = min(recent)
            seconds = int((oldest + timedelta(hours=1) - now).total_seconds()) + 1
            raise VerificationError("code_wait", seconds=seconds)
    for old in session.scalars(
        select(Verification).where(
            Verification.phone == phone,
            Verification.purpose == purpose,
            Verification.used_at.is_(None),
        )
    ):
        old.used_at = now  # superseded
    token = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10**6):06d}"
    row = Verification(
        token=token,
        purpose=purpose,
        phone=phone,
        code_hash=_digest(secret, token, code),
        payload=payload,
        attempts=0,
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    session.add(row)
    session.flush()
    return Issued(row, code)


def pending(session: Session, token: str, purpose: Purpose) -> Verification | None:
    """The verification a token stands for, while it can still be confirmed."""
    if not token or len(token) > 64:
        return None
    row = session.scalar(
        select(Verification).where(Verification.token == token, Verification.purpose == purpose)
    )
    return row if row is not None and row.used_at is None else None


def confirm(
    session: Session, secret: str, token: str, purpose: Purpose, code: str, now: datetime
) -> Verification:
    """The verification, now used, when ``code`` is right; else ``VerificationError``. A wrong
    try counts even though the caller reports an error: commit the session either way."""
    row = pending(session, token, purpose)
    if row is None or row.expires_at <= now or row.attempts >= MAX_TRIES:
        raise VerificationError("code_expired")
    row.attempts += 1
    typed = "".join(ch for ch in code if ch.isdigit())
    if not hmac.compare_digest(row.code_hash, _digest(secret, row.token, typed)):
        raise VerificationError("code_wrong" if row.attempts < MAX_TRIES else "code_expired")
    row.used_at = now
    return row
