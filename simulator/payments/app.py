"""The simulated providers' HTTP service: checkout pages where the "driver" confirms a payment,
a pull API for auto top-ups, and each provider's list of the payments it took.

Every request from the merchant must carry the merchant's signature (the checkout redirect's
fields, a pull request's body); a forged or stale one is refused with a page or a 401 saying
why. A confirmed payment is reported to the merchant's webhook by
:class:`~simulator.payments.delivery.WebhookSender`.
"""

from __future__ import annotations

import html
import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from simulator.payments.book import PaymentBook
from simulator.payments.config import ServiceConfig, SimProvider
from simulator.payments.delivery import WebhookSender
from simulator.payments.signing import fields_signed_by_merchant, signed_by_merchant

log = logging.getLogger(__name__)
CHECKOUT_MAX_AGE_S = 3600
FIELDS = ("reference", "amount_vnd", "return_url", "ts", "signature")


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " ₫"


STYLE = """body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}
.amount{font-size:2rem;font-weight:700}
button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.3rem 0}
.pay{background:#0a7a3d;color:#fff;border:0;border-radius:.4rem} .muted{color:#666}"""


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    head = (
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, '
        f'initial-scale=1"><title>{html.escape(title)}</title><style>{STYLE}</style>'
    )
    return HTMLResponse(
        f'<!doctype html><html lang="vi"><head>{head}</head><body>{body}</body></html>',
        status_code=status_code,
    )


def _qr_svg(text: str) -> str:
    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=5, xmldecl=False)
    return out.getvalue().decode()


def _how_to_pay(provider: SimProvider, reference: str, amount: int) -> str:
    if provider.kind == "qr":
        code = _qr_svg(f"SIMQR|{provider.name}|{reference}|{amount}")
        hint = '<p class="muted">Quét mã bằng ứng dụng ngân hàng</p>'
        return f'<div data-testid="qr">{code}</div>{hint}'
    if provider.kind == "bank_transfer":
        return (
            f"<p>Chuyển khoản đến tài khoản <b>{html.escape(provider.bank_account)}</b>, "
            f"nội dung <b data-testid='memo'>{html.escape(reference)}</b></p>"
        )
    return "<p>Xác nhận thanh toán trong ứng dụng ví của bạn</p>"


def _checkout_fields(config: ServiceConfig, provider: str, fields: dict[str, str]) -> SimProvider:
    """The provider, once the merchant's signature over the checkout's fields holds."""
    known = config.by_name.get(provider)
    if known is None:
        raise HTTPException(404, f"no provider {provider}")
    if any(not fields.get(f) for f in FIELDS) or not fields["amount_vnd"].isdigit():
        raise HTTPException(400, "the checkout link is incomplete")
    if urlsplit(fields["return_url"]).scheme not in ("http", "https"):
        raise HTTPException(400, "the checkout link's return address is not a web address")
    if not fields_signed_by_merchant(known.secret, fields, CHECKOUT_MAX_AGE_S):
        log.warning("checkout of %s refused: bad or stale merchant signature", provider)
        raise HTTPException(403, "the checkout link is not signed by the merchant, or too old")
    return known


def checkout_form(
    request: Request,
    provider: str,
    reference: Annotated[str, Form(max_length=120)],
    amount_vnd: Annotated[str, Form(max_length=12)],
    return_url: Annotated[str, Form(max_length=2000)],
    ts: Annotated[str, Form(max_length=20)],
    signature: Annotated[str, Form(max_length=100)],
) -> tuple[SimProvider, dict[str, str]]:
    """The checkout page's fields sent back, the merchant's signature checked again."""
    fields = dict(
        reference=reference,
        amount_vnd=amount_vnd,
        return_url=return_url,
        ts=ts,
        signature=signature,
    )
    return _checkout_fields(request.app.state.config, provider, fields), fields


CheckoutForm = Annotated[tuple[SimProvider, dict[str, str]], Depends(checkout_form)]


def create_provider_app(
    config: ServiceConfig, book: PaymentBook | None = None, sender: WebhookSender | None = None
) -> FastAPI:
    book = book or PaymentBook()
    sender = sender or WebhookSender(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sender.start()
        try:
            yield
        finally:
            sender.stop()

    app = FastAPI(title="Simulated payment providers", lifespan=lifespan)
    app.state.book, app.state.sender, app.state.config = book, sender, config

    @app.exception_handler(HTTPException)
    async def _problem(request: Request, exc: HTTPException) -> Any:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return _page(
            "Lỗi",
            f"<h1>Không thể thanh toán</h1><p>{html.escape(str(exc.detail))}</p>",
            exc.status_code,
        )

    @app.get("/checkout/{provider}", response_class=HTMLResponse)
    def checkout(provider: str, request: Request) -> HTMLResponse:
        fields = {k: request.query_params.get(k, "") for k in FIELDS}
        known = _checkout_fields(config, provider, fields)
        amount = int(fields["amount_vnd"])
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v, quote=True)}">'
            for k, v in fields.items()
        )
        return _page(
            known.label,
            f"""<h1>{html.escape(known.label)}</h1>
<p>Thanh toán cho <b>{html.escape(config.merchant)}</b></p>
<p class="amount" data-testid="amount">{_vnd(amount)}</p>
<p class="muted">Mã giao dịch {html.escape(fields["reference"])}</p>
{_how_to_pay(known, fields["reference"], amount)}
<form method="post" action="/checkout/{known.name}/confirm">{hidden}
<button class="pay" type="submit">Xác nhận thanh toán</button></form>
<form method="post" action="/checkout/{known.name}/cancel">{hidden}
<button type="submit">Hủy</button></form>""",
        )

    @app.post("/checkout/{provider}/confirm")
    def confirm(form: CheckoutForm) -> RedirectResponse:
        known, fields = form
        paid, new = book.pay(known.name, fields["reference"], int(fields["amount_vnd"]))
        if new:
            log.info("%s took %d VND for %s", known.name, paid.amount_vnd, paid.reference)
            sender.report(paid)
        return RedirectResponse(fields["return_url"], status_code=303)

    @app.post("/checkout/{provider}/cancel")
    def cancel(form: CheckoutForm) -> RedirectResponse:
        """The payer gave up: the merchant hears it from a signed ``payment.failed``."""
        known, fields = form
        failed, new = book.decline(known.name, fields["reference"], int(fields["amount_vnd"]))
        if failed is not None and new:
            log.info("%s: payment for %s cancelled", known.name, failed.reference)
            sender.report(failed)
        return RedirectResponse(fields["return_url"], status_code=303)

    _api_routes(app, config, book, sender)
    return app


def _api_routes(
    app: FastAPI, config: ServiceConfig, book: PaymentBook, sender: WebhookSender
) -> None:
    """The merchant's API: pulls from a linked account, and the provider's statement."""

    @app.post("/api/{provider}/charges")
    async def charge(provider: str, request: Request) -> JSONResponse:
        """Pull from the linked account (auto top-up): accepted now, reported by webhook."""
        known = config.by_name.get(provider)
        if known is None or not known.pulls:
            raise HTTPException(404, f"no provider {provider} that pulls")
        body = await request.body()
        if len(body) > 4096 or not signed_by_merchant(
            known.secret,
            request.headers.get("X-Signature-Timestamp"),
            request.headers.get("X-Signature"),
            body,
        ):
            log.warning("pull request to %s refused: bad signature", provider)
            raise HTTPException(401, "bad signature")
        try:
            ask = json.loads(body)
            reference, amount = str(ask["reference"]), ask["amount_vnd"]
            account = int(ask["account_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise HTTPException(422, f"malformed pull request: {exc}") from None
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise HTTPException(422, "amount_vnd must be a positive integer")
        paid, new = book.pay(known.name, reference, amount, account)
        if new:
            sender.report(paid)
        return JSONResponse({"provider_txn_id": paid.txn_id, "status": "accepted"})

    @app.get("/api/{provider}/transactions")
    def transactions(provider: str) -> list[dict[str, Any]]:
        """The provider's statement: what it took, for the merchant's reconciliation."""
        if provider not in config.by_name:
            raise HTTPException(404, f"no provider {provider}")
        return [
            {
                "provider_txn_id": p.txn_id,
                "reference": p.reference,
                "amount_vnd": p.amount_vnd,
                "at": p.at.isoformat(),
            }
            for p in book.payments(provider)
        ]
