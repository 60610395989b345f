"""Where an invoice can be looked up by the people who hold it: ``<public url>/tra-cuu``.

The QR code on an invoice must lead to an address the driver's phone can reach, so it is built
from ``PARKING_PUBLIC_URL``, or from the address the request that renders it came in on, never
not from a loopback default (the configured HTTP address is the last resort, outside requests).
"""

from __future__ import annotations

from fastapi import Request

from gateway.settings import Settings

LOOKUP_PATH = "/tra-cuu"  # einvoice.render.LOOKUP_PATH: the QR codes' target


def public_base(settings: Settings, request: Request | None = None) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if request is not None:
        return str(request.base_url).rstrip("/")
    return f"http://{settings.http_host}:{settings.http_port}"


def lookup_link(base: str, code: str | None) -> str:
    """The public lookup page of the invoice with this lookup code ("" without a code)."""
    from einvoice.render import public_lookup_url

    return public_lookup_url(base, code)
