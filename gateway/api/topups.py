"""Top-ups: the payment provider's signed webhook, and the simulated provider drivers pay with.

The webhook is the only way money enters an account. It is authenticated by HMAC, and
idempotent twice over: by the ``Idempotency-Key`` header (same key, same body: the stored answer
comes back; same key, other body: 409) and, underneath, by billing's (provider, provider_txn_id).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.api import billing_port
from gateway.api.access import AccessFirstRoute, AccountId
from gateway.api.schemas import AUTH_ERRORS, MAX_ID, IdPath, Problem, invalid, not_found
from gateway.api.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    signed_headers,
    verify,
)
from gateway.auth.audit import record
from gateway.deps import CurrentUser, SessionFactoryDep, SettingsDep, UowDep
from gateway.orm import WebhookDelivery

log = logging.getLogger(__name__)
router = APIRouter(tags=["top-ups"], route_class=AccessFirstRoute)

SIM_PROVIDER = "simpay"
MIN_TOP_UP_VND = 10_000
MAX_TOP_UP_VND = 10_000_000


class PaymentEvent(BaseModel):
    """What the provider posts when a payment settles."""

    event: Literal["payment.succeeded"]
    provider: str = Field(min_length=1, max_length=40)
    provider_txn_id: str = Field(min_length=1, max_length=120)
    account_id: int = Field(gt=0, le=MAX_ID)
    amount_vnd: int = Field(ge=MIN_TOP_UP_VND, le=MAX_TOP_UP_VND, strict=True)


class TopUpResult(BaseModel):
    status: Literal["credited"]
    provider: str
    provider_txn_id: str
    account_id: int
    amount_vnd: int
    balance_vnd: int


class TopUpRequest(BaseModel):
    amount_vnd: int = Field(ge=MIN_TOP_UP_VND, le=MAX_TOP_UP_VND, strict=True)


def process_webhook(
    session_factory: sessionmaker[Session],
    uow: Any,
    secret: str,
    body: bytes,
    headers: dict[str, str | None],
) -> tuple[int, dict[str, Any], bool]:
    """(status code, JSON answer, replayed?) for one delivery; shared by the route and the sim."""
    try:
        verify(secret, headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER), body)
    except SignatureError as exc:
        log.warning("payment webhook rejected: %s", exc)
        return 401, {"detail": f"bad signature: {exc}"}, False
    key = headers.get(IDEMPOTENCY_HEADER)
    if not key or len(key) > 128:
        return 400, {"detail": f"{IDEMPOTENCY_HEADER} header (1-128 chars) is required"}, False
    digest = hashlib.sha256(body).hexdigest()
    with session_factory() as s:
        seen = s.scalar(select(WebhookDelivery).where(WebhookDelivery.idempotency_key == key))
        if seen is not None:
            if seen.body_sha256 != digest:
                return 409, {"detail": "idempotency key reused with another body"}, False
            return seen.status_code, seen.response, True
    code, answer = _apply(uow, body)
    with session_factory() as s:
        s.add(
            WebhookDelivery(
                idempotency_key=key, body_sha256=digest, status_code=code, response=answer
            )
        )
        try:
            s.commit()
        except IntegrityError:
            # A concurrent delivery with the same key won; billing credited once either way.
            s.rollback()
            seen = s.scalar(select(WebhookDelivery).where(WebhookDelivery.idempotency_key == key))
            if seen is not None:
                return seen.status_code, seen.response, True
    return code, answer, False


def _apply(uow: Any, body: bytes) -> tuple[int, dict[str, Any]]:
    try:
        event = PaymentEvent.model_validate_json(body)
    except ValidationError as exc:
        log.warning("payment webhook with a malformed body: %s", exc.errors()[:3])
        return 422, {"detail": "malformed payment event", "errors": json.loads(exc.json())[:5]}
    try:
        balance = billing_port.top_up(
            uow, event.account_id, event.amount_vnd, event.provider, event.provider_txn_id
        )
    except billing_port.NotFound as exc:
        log.warning("payment webhook for an unknown account %s", event.account_id)
        return 404, {"detail": str(exc)}
    except billing_port.Rejected as exc:
        log.warning("payment webhook refused by billing: %s", exc)
        return 422, {"detail": str(exc)}
    result = TopUpResult(
        status="credited",
        provider=event.provider,
        provider_txn_id=event.provider_txn_id,
        account_id=event.account_id,
        amount_vnd=event.amount_vnd,
        balance_vnd=balance,
    )
    return 200, result.model_dump()


@router.post(
    "/payments/webhook",
    response_model=TopUpResult,
    responses={
        400: {"model": Problem, "description": "no Idempotency-Key"},
        401: {"model": Problem, "description": "bad or missing HMAC signature"},
        404: {"model": Problem, "description": "unknown account"},
        409: {"model": Problem, "description": "idempotency key reused with a different body"},
        413: {"model": Problem, "description": "body over 16 KiB"},
        422: {"description": "malformed event"},
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
    settings: SettingsDep,
    # Optional to FastAPI so that a missing one is our 401/400, not a generic 422.
    x_signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            description='required: "sha256=" + hex HMAC-SHA256 of "<timestamp>." + body',
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
    """Signed ``payment.succeeded`` event from the payment provider: credits the account once."""
    body = await request.body()
    if len(body) > 16_384:
        return JSONResponse({"detail": "payload too large"}, status_code=413)
    headers = {
        SIGNATURE_HEADER: x_signature,
        TIMESTAMP_HEADER: x_signature_timestamp,
        IDEMPOTENCY_HEADER: idempotency_key,
    }
    from starlette.concurrency import run_in_threadpool

    code, answer, replayed = await run_in_threadpool(
        process_webhook, session_factory, uow, settings.payment_webhook_secret, body, headers
    )
    return JSONResponse(
        answer, status_code=code, headers={"Idempotent-Replayed": "true"} if replayed else None
    )


def simulate_payment(
    session_factory: sessionmaker[Session],
    uow: Any,
    secret: str,
    account_id: IdPath,
    amount_vnd: int,
) -> tuple[int, dict[str, Any]]:
    """The simulated provider: 'charges the card', then delivers its signed webhook to us."""
    txn = f"sim-{uuid.uuid4().hex[:16]}"
    body = json.dumps(
        {
            "event": "payment.succeeded",
            "provider": SIM_PROVIDER,
            "provider_txn_id": txn,
            "account_id": account_id,
            "amount_vnd": amount_vnd,
        }
    ).encode()
    headers: dict[str, str | None] = dict(signed_headers(secret, body, idempotency_key=txn))
    code, answer, _ = process_webhook(session_factory, uow, secret, body, headers)
    return code, answer


@router.post(
    "/accounts/{account_id}/topups",
    response_model=TopUpResult,
    status_code=201,
    responses={**AUTH_ERRORS, **not_found("unknown account")},
)
def top_up_account(
    account_id: AccountId,
    body: TopUpRequest,
    user: CurrentUser,
    session_factory: SessionFactoryDep,
    uow: UowDep,
    settings: SettingsDep,
) -> TopUpResult:
    """Pay through the simulated payment provider; the credit arrives by its signed webhook."""
    code, answer = simulate_payment(
        session_factory, uow, settings.payment_webhook_secret, account_id, body.amount_vnd
    )
    if code == 422:
        raise invalid(("body",), str(answer.get("detail", "top-up refused")))
    if code != 200:
        raise HTTPException(code, answer.get("detail", "top-up failed"))
    with session_factory() as s:
        record(s, user, "account.top_up", "account", account_id, {"amount_vnd": body.amount_vnd})
        s.commit()
    return TopUpResult.model_validate(answer)
