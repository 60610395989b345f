"""Top-ups: the configured payment providers, top-up intents, and the providers' signed webhook.

A driver asks for a top-up (an intent: amount, provider) and is sent to the provider's checkout
page; the money enters the account only when that provider's signed webhook reports the
payment (``gateway.payments.webhook``). Nothing here credits an account by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from billing.domain.model import DomainError
from billing.domain.payments import MAX_TOP_UP_VND, MIN_TOP_UP_VND
from billing.services.intents import IntentView, get_topup_intent, list_topup_intents
from gateway.api.access import AccessFirstRoute, AccountId
from gateway.api.schemas import AUTH_ERRORS, Problem, invalid, not_found
from gateway.deps import CurrentUser, SessionDep, SessionFactoryDep, UowDep, release
from gateway.invoice_links import public_base
from gateway.payments.checkout import UnknownProvider, audit_checkout, start_checkout
from gateway.payments.providers import PaymentProvider, public_view
from gateway.payments.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from gateway.payments.webhook import MAX_BODY_BYTES, PaymentEvent, process_webhook

router = APIRouter(tags=["top-ups"], route_class=AccessFirstRoute)
Reference = Annotated[str, Path(min_length=1, max_length=120)]


def get_providers(request: Request) -> dict[str, PaymentProvider]:
    providers: dict[str, PaymentProvider] = request.app.state.payment_providers
    return providers


ProvidersDep = Annotated[dict[str, PaymentProvider], Depends(get_providers)]


class ProviderOut(BaseModel):
    name: str
    label: str
    kind: str
    auto_top_up: bool = Field(description="it can pull auto top-ups from a linked account")


class TopUpIntentIn(BaseModel):
    provider: str = Field(min_length=1, max_length=40, examples=["vnpay-qr"])
    amount_vnd: int = Field(ge=MIN_TOP_UP_VND, le=MAX_TOP_UP_VND, strict=True)


class TopUpIntentOut(BaseModel):
    reference: str
    account_id: int
    provider: str
    amount_vnd: int
    kind: str
    status: str = Field(description="pending, credited, or expired (a late payment still lands)")
    created_at: datetime
    expires_at: datetime
    credited_at: datetime | None
    credited_vnd: int | None
    checkout_url: str | None = Field(default=None, description="where the driver pays")


def intent_out(view: IntentView, checkout_url: str | None = None) -> TopUpIntentOut:
    return TopUpIntentOut(
        **{k: getattr(view, k) for k in TopUpIntentOut.model_fields if k != "checkout_url"},
        checkout_url=checkout_url,
    )


def portal_return_url(request: Request) -> Callable[[str], str]:
    """Where a provider sends the driver back: the intent's page in the portal, at the address
    drivers reach (``PARKING_PUBLIC_URL``, else the one this request came in on)."""
    base = public_base(request.app.state.settings, request)
    return lambda reference: base + request.app.url_path_for("portal_topup", reference=reference)


@router.get("/payments/providers", response_model=list[ProviderOut], responses=AUTH_ERRORS)
def list_providers(providers: ProvidersDep, user: CurrentUser) -> list[ProviderOut]:
    """The providers drivers may top up with here (none: no top-up is possible)."""
    return [ProviderOut.model_validate(p) for p in public_view(providers)]


@router.post(
    "/accounts/{account_id}/topup-intents",
    response_model=TopUpIntentOut,
    status_code=201,
    responses={**AUTH_ERRORS, **not_found("no such account")},
)
def open_intent(
    account_id: AccountId,
    user: CurrentUser,
    body: TopUpIntentIn,
    request: Request,
    session: SessionDep,
    uow: UowDep,
    providers: ProvidersDep,
) -> TopUpIntentOut:
    """Ask for a top-up: the answer's ``checkout_url`` is where the driver pays. The account is
    credited when the provider's signed webhook reports the payment; until then the intent is
    pending."""
    release(session)
    try:
        checkout = start_checkout(
            uow, providers, account_id, body.provider, body.amount_vnd, portal_return_url(request)
        )
    except UnknownProvider as exc:
        raise invalid(("body", "provider"), str(exc)) from exc
    except DomainError as exc:
        raise invalid(("body",), str(exc)) from exc
    audit_checkout(session, user, checkout)
    return intent_out(checkout.intent, checkout.url)


@router.get(
    "/accounts/{account_id}/topup-intents",
    response_model=list[TopUpIntentOut],
    responses={**AUTH_ERRORS, **not_found("no such account")},
)
def list_intents(account_id: AccountId, uow: UowDep) -> list[TopUpIntentOut]:
    """The account's latest top-up intents, newest first."""
    return [intent_out(v) for v in list_topup_intents(uow, account_id, limit=50)]


@router.get(
    "/accounts/{account_id}/topup-intents/{reference}",
    response_model=TopUpIntentOut,
    responses={**AUTH_ERRORS, **not_found("no such account or intent")},
)
def get_intent(account_id: AccountId, reference: Reference, uow: UowDep) -> TopUpIntentOut:
    view = get_topup_intent(uow, reference)
    if view is None or view.account_id != account_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no top-up intent {reference}")
    return intent_out(view)


@router.post(
    "/payments/webhook",
    responses={
        200: {"description": "credited (or a replay of the stored answer)"},
        400: {"model": Problem, "description": "no Idempotency-Key"},
        401: {"model": Problem, "description": "unknown provider, or a bad or missing signature"},
        404: {"model": Problem, "description": "no top-up intent with that reference"},
        409: {"model": Problem, "description": "idempotency key reused with a different body"},
        413: {"model": Problem, "description": f"body over {MAX_BODY_BYTES} bytes"},
        422: {"description": "malformed event, or refused by billing"},
    },
    # The body is read raw (the HMAC covers its exact bytes), so FastAPI cannot infer it.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PaymentEvent.model_json_schema()}},
        }
    },
)
async def payment_webhook(
    request: Request,
    session_factory: SessionFactoryDep,
    uow: UowDep,
    providers: ProvidersDep,
    # Optional to FastAPI so that a missing one is our 401/400, not a generic 422.
    x_signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            description='required: "sha256=" + hex HMAC-SHA256 of "<timestamp>." + body, with '
            "the provider's webhook secret",
        ),
    ] = None,
    x_signature_timestamp: Annotated[
        str | None,
        Header(alias=TIMESTAMP_HEADER, description="required: unix seconds, within 5 minutes"),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            description="required, 1-128 chars: same key and body replays the stored answer, "
            "same key with another body is 409",
        ),
    ] = None,
) -> JSONResponse:
    """A provider's signed ``payment.succeeded``: credits the intent's account once."""
    body = b""
    async for chunk in request.stream():  # never more than the limit in memory
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"detail": "payload too large"}, status_code=413)
    headers = {
        SIGNATURE_HEADER: x_signature,
        TIMESTAMP_HEADER: x_signature_timestamp,
        IDEMPOTENCY_HEADER: idempotency_key,
    }
    answer = await run_in_threadpool(
        process_webhook, session_factory, uow, providers, body, headers
    )
    extra = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return JSONResponse(
        answer.body, status_code=answer.status_code, headers={**answer.headers, **extra}
    )
