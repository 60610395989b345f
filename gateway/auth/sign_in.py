"""One sign-in attempt, as the API's token endpoint and the sign-in page both make it:
throttled first (``gateway.auth.throttle``), then the password, and an audit line for every
failure and for the first refusal of each throttled spell."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from gateway.auth.audit import record
from gateway.auth.throttle import SignInThrottle, Verdict
from gateway.auth.users import authenticate
from gateway.orm import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignIn:
    user: User | None  # None: refused (wrong password, or throttled when verdict.blocked)
    verdict: Verdict = field(default_factory=Verdict)


def attempt(
    session: Session,
    throttle: SignInThrottle,
    username: str,
    password: str,
    *,
    address: str,
    via: str,
) -> SignIn:
    """``via``: "api" or "page". The audit rows ride in ``session``; the caller commits."""
    target = username.strip().lower()[:64]
    verdict = throttle.check(username, address)
    if verdict.blocked:
        if verdict.report:
            log.warning("sign-in of %r from %s throttled (%s)", target, address, via)
            record(
                session,
                None,
                "auth.sign_in_throttled",
                "user",
                target,
                {"address": address, "via": via, "retry_after_s": verdict.retry_after_header},
            )
        return SignIn(None, verdict)
    user = authenticate(session, username, password)
    if user is None:
        failures = throttle.failed(username, address)
        log.info("failed sign-in of %r from %s (%s, %d)", target, address, via, failures)
        record(
            session,
            None,
            "auth.sign_in_failed",
            "user",
            target,
            {"address": address, "via": via, "failures": failures},
        )
        return SignIn(None)
    throttle.succeeded(username)
    return SignIn(user)
