"""Signed, expiring credentials: one salt for page cookies, another for API bearer tokens.

A cookie can never be replayed as a bearer token (or the reverse) because the salts differ.
The token carries the user id and the password-hash fingerprint, so changing a password
invalidates every token issued before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

TokenKind = Literal["cookie", "api"]

COOKIE_NAME = "parking_session"
COOKIE_MAX_AGE_S = 12 * 3600
API_TOKEN_MAX_AGE_S = 24 * 3600


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    fingerprint: str


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class TokenSigner:
    def __init__(self, secret_key: str) -> None:
        self._serializers = {
            kind: URLSafeTimedSerializer(secret_key, salt=f"parking-{kind}")
            for kind in ("cookie", "api")
        }

    def issue(self, kind: TokenKind, user_id: int, password_hash: str) -> str:
        return str(self._serializers[kind].dumps({"u": user_id, "f": fingerprint(password_hash)}))

    def load(self, kind: TokenKind, token: str) -> TokenClaims | None:
        max_age = COOKIE_MAX_AGE_S if kind == "cookie" else API_TOKEN_MAX_AGE_S
        try:
            data = self._serializers[kind].loads(token, max_age=max_age)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict):
            return None
        user_id, fp = data.get("u"), data.get("f")
        if not isinstance(user_id, int) or not isinstance(fp, str):
            return None
        return TokenClaims(user_id=user_id, fingerprint=fp)
