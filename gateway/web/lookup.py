"""The public invoice lookup: anyone with the code printed on an invoice may read it.

``/tra-cuu?ma=7KQ2M-X9D4P`` (the QR code's target) shows the invoice as the buyer got it, with
its PDF and signed XML. No sign-in: the lookup code is the secret, 50 random bits, so codes
cannot be walked through one after another; each client address gets a few lookups a minute
(429 with Retry-After beyond), and every refusal is logged.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from gateway.deps import SessionDep, SettingsDep
from gateway.invoice_links import LOOKUP_PATH, lookup_link, public_base
from gateway.ratelimit import SlidingWindowLimit
from gateway.web.rendering import render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


class TooManyLookups(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s)
        self.retry_after_s = retry_after_s


def lookup_limit(request: Request, settings: SettingsDep) -> None:
    """One lookup counted for the client's address; raises :class:`TooManyLookups`."""
    limiter: SlidingWindowLimit | None = getattr(request.app.state, "lookup_limit", None)
    if limiter is None:
        limiter = SlidingWindowLimit(settings.lookup_per_minute)
        request.app.state.lookup_limit = limiter
    address = request.client.host if request.client else "unknown"
    verdict = limiter.hit(address)
    if not verdict.allowed:
        log.warning("invoice lookup refused for %s: over %s a minute", address, limiter.limit)
        raise TooManyLookups(verdict.retry_after_s)


LookupLimit = Annotated[None, Depends(lookup_limit)]


def _find(session: SessionDep, code: str) -> Any:
    from einvoice import queries as inv
    from einvoice.lookup_codes import normalize_lookup_code

    normalized = normalize_lookup_code(code)
    return None if normalized is None else inv.find_by_lookup_code(session, normalized)


@router.get(LOOKUP_PATH, response_class=HTMLResponse)
def lookup_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _limit: LookupLimit,
    ma: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The form, or the invoice whose lookup code was given."""
    from einvoice import queries as inv
    from einvoice.render import render_html

    if not ma.strip():
        return render(request, "lookup.html", None, code="", missing=False)
    found = _find(session, ma)
    if found is None:
        return render(request, "lookup.html", None, status_code=404, code=ma, missing=True)
    _, xml = inv.invoice_xml(session, found.id)
    base = public_base(settings, request)
    here = f"{LOOKUP_PATH}/{found.lookup_code}"
    html = render_html(
        xml,
        settings.tax_authority_url,
        status=found.status,
        public_lookup_url=lookup_link(base, found.lookup_code),
        lookup_code=found.lookup_code,
        links=(
            ("Tải PDF", f"{here}.pdf"),
            ("Tải XML (bản có chữ ký số)", f"{here}.xml"),
            ("Tra cứu hóa đơn khác", LOOKUP_PATH),
        ),
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


@router.get(LOOKUP_PATH + "/{code}.pdf")
def lookup_pdf(
    code: str, request: Request, session: SessionDep, settings: SettingsDep, _limit: LookupLimit
) -> Response:
    from einvoice import queries as inv
    from einvoice.render import render_pdf

    found = _find(session, code)
    if found is None:
        return render(request, "lookup.html", None, status_code=404, code=code, missing=True)
    name, xml = inv.invoice_xml(session, found.id)
    pdf = render_pdf(
        xml,
        settings.tax_authority_url,
        status=found.status,
        public_lookup_url=lookup_link(public_base(settings, request), found.lookup_code),
        lookup_code=found.lookup_code,
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name[:-4]}.pdf"'},
    )


@router.get(LOOKUP_PATH + "/{code}.xml")
def lookup_xml(code: str, request: Request, session: SessionDep, _limit: LookupLimit) -> Response:
    from einvoice import queries as inv

    found = _find(session, code)
    if found is None:
        return render(request, "lookup.html", None, status_code=404, code=code, missing=True)
    name, xml = inv.invoice_xml(session, found.id)
    return Response(
        xml,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
