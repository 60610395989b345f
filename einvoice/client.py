"""HTTP client of the tax authority: posts one TDiep, returns the parsed reply.

Deliberately thin: no retries here (the submitter owns retry policy and records every attempt).
It sorts failures into the two kinds the submitter must tell apart: *transient* (network, time
out, 5xx, an unreadable answer: resend the same message later) and *refused* (the authority
read the request and said no at the HTTP level: resending unchanged cannot help).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

import httpx

from einvoice import tdiep

MESSAGE_PATH = "/api/tdiep"
CONTENT_TYPE = "application/xml; charset=utf-8"


class TransportError(Exception):
    """The message may or may not have arrived; resending the same message id is safe.

    ``connected`` is False only when no connection was made at all, i.e. the authority
    certainly did not receive the message.
    """

    def __init__(self, message: str, *, http_status: int | None = None, connected: bool = True):
        super().__init__(message)
        self.http_status = http_status
        self.connected = connected


class RefusedError(Exception):
    """The authority answered 4xx without a readable acknowledgement."""

    def __init__(self, message: str, *, http_status: int):
        super().__init__(message)
        self.http_status = http_status


@dataclass(frozen=True)
class Response:
    http_status: int
    body: bytes
    reply: tdiep.Reply


class TaxAuthorityClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self.http = http or httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> TaxAuthorityClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, message: bytes) -> Response:
        """POST one TDiep; raises :class:`TransportError` or :class:`RefusedError`."""
        try:
            answer = self.http.post(
                self.base_url + MESSAGE_PATH,
                content=message,
                headers={"Content-Type": CONTENT_TYPE},
            )
        except httpx.ConnectError as exc:
            raise TransportError(f"cannot connect: {exc}", connected=False) from exc
        except httpx.TimeoutException as exc:
            raise TransportError(f"timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:  # connection dropped, protocol error, ...
            raise TransportError(f"connection failed: {type(exc).__name__}: {exc}") from exc
        status = answer.status_code
        if status >= 500:
            raise TransportError(f"authority answered HTTP {status}", http_status=status)
        body = answer.content
        try:
            reply = tdiep.parse_reply(body)
        except tdiep.TDiepError as exc:
            if status >= 400:
                raise RefusedError(
                    f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}", http_status=status
                ) from exc
            raise TransportError(
                f"unreadable answer (HTTP {status}): {exc}", http_status=status
            ) from exc
        return Response(status, body, reply)

    def lookup(self, mccqt: str) -> bytes | None:
        """The authority's copy of an invoice by code (``GET /api/invoices/{mccqt}``)."""
        answer = self.http.get(f"{self.base_url}/api/invoices/{mccqt}", params={"format": "xml"})
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return answer.content
