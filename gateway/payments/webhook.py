"""A payment provider's webhook: the only way money enters a transport account.

Each delivery is checked in this order: the provider it names must be configured; its HMAC
signature (that provider's secret, over the timestamp and the exact body) must verify; its
``Idempotency-Key`` must be new, or name the same body (then the stored answer is replayed;
another body is a 409). A verified delivery is recorded, with the payment it reports, before
billing credits anything (``billing.services.intents.credit_topup``): reconciliation ties every
top-up in the ledger to such a record, so a top-up written any other way is reported. The
payment names a top-up intent by its reference; the account is the intent's, never one the
body chooses. A ``payment.failed`` (declined or cancelled at the provider) marks a pending intent
failed, so the portal can say so; it moves no money and is not a payment for reconciliation.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from billing.adapters.uow import UnitOfWork
from billing.domain.model import DomainError
from billing.services.intents import credit_topup, fail_topup_intent
from gateway.orm import WebhookDelivery
from gateway.payments.providers import PaymentProvider
from gateway.payments.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16_384
MAX_PAYMENT_VND = 100_000_000  # one payment; an auto top-up may be several steps


class PaymentEvent(BaseModel):
    """What a provider posts when a payment settles (docs/contracts.md)."""

    event: Literal["payment.succeeded", "payment.failed"]
    provider: str = Field(min_length=1, max_length=40)
    provider_txn_id: str = Field(min_length=1, max_length=120)
    reference: str = Field(min_length=1, max_length=120, description="the top-up intent's")
    amount_vnd: int = Field(gt=0, le=MAX_PAYMENT_VND, strict=True)
    account_id: int | None = Field(default=None, gt=0, description="if given: the intent's")


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def _problem(code: int, detail: str, **headers: str) -> WebhookAnswer:
    return WebhookAnswer(code, {"detail": detail}, headers=headers)


def named_provider(body: bytes, providers: Mapping[str, PaymentProvider]) -> PaymentProvider | None:
    """The configured provider the body says it comes from (its signature is checked next)."""
    try:
        claimed = json.loads(body).get("provider")
    except (ValueError, AttributeError):
        return None
    return providers.get(claimed) if isinstance(claimed, str) else None


def process_webhook(
    session_factory: sessionmaker[Session],
    uow: UnitOfWork,
    providers: Mapping[str, PaymentProvider],
    body: bytes,
    headers: Mapping[str, str | None],
) -> WebhookAnswer:
    """Verify, record and credit one delivery; the answer to send back."""
    if len(body) > MAX_BODY_BYTES:
        log.warning("payment webhook refused: %d bytes", len(body))
        return _problem(413, "payload too large")
    provider = named_provider(body, providers)
    if provider is None:
        log.warning("payment webhook from no configured provider refused")
        return _problem(401, "unknown payment provider")
    try:
        verify(provider.secret, headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER), body)
    except SignatureError as exc:
        log.warning("payment webhook of %s refused: %s", provider.name, exc)
        return _problem(401, f"bad signature: {exc}")
    key = headers.get(IDEMPOTENCY_HEADER)
    if not key or len(key) > 128:
        log.warning("payment webhook of %s without a usable idempotency key", provider.name)
        return _problem(400, f"{IDEMPOTENCY_HEADER} header (1-128 chars) is required")
    digest = hashlib.sha256(body).hexdigest()
    with session_factory() as s:
        seen = s.scalar(select(WebhookDelivery).where(WebhookDelivery.idempotency_key == key))
        if seen is not None:
            if seen.body_sha256 != digest:
                log.warning("payment webhook key %s reused with another body", key)
                return _problem(409, "idempotency key reused with another body")
            if seen.status_code is not None:
                return WebhookAnswer(seen.status_code, dict(seen.response), replayed=True)
    try:
        event = PaymentEvent.model_validate_json(body)
    except ValidationError as exc:
        log.warning("payment webhook of %s malformed: %s", provider.name, exc.errors()[:3])
        answer = WebhookAnswer(
            422,
            {"detail": "malformed payment event", "errors": json.loads(exc.json())[:5]},
        )
        return _store(session_factory, key, digest, None, answer)
    if event.event == "payment.failed":
        # No money moved: the delivery is kept for its idempotency key, not as a payment.
        return _store(session_factory, key, digest, None, _fail(uow, event))
    if seen is None:
        _record(session_factory, key, digest, event)
    # A delivery seen but not answered (a crash, or a concurrent twin): crediting is idempotent.
    return _store(session_factory, key, digest, event, _credit(uow, event))


def _record(
    session_factory: sessionmaker[Session], key: str, digest: str, event: PaymentEvent
) -> None:
    """The verified delivery and its payment, committed before any credit (a concurrent
    delivery with the same key may have recorded it first: then that record stands)."""
    with session_factory() as s:
        s.add(
            WebhookDelivery(
                idempotency_key=key,
                body_sha256=digest,
                status_code=None,
                response={},
                provider=event.provider,
                provider_txn_id=event.provider_txn_id,
                reference=event.reference,
                account_id=event.account_id,
                amount_vnd=event.amount_vnd,
            )
        )
        try:
            s.commit()
        except IntegrityError:
            s.rollback()


def _credit(uow: UnitOfWork, event: PaymentEvent) -> WebhookAnswer:
    for attempt in range(2):  # a concurrent delivery of the same payment may win the insert
        try:
            done = credit_topup(
                uow,
                event.provider,
                event.reference,
                event.provider_txn_id,
                event.amount_vnd,
                account_id=event.account_id,
            )
        except IntegrityError:
            if attempt:
                raise
            continue
        except LookupError as exc:
            log.error(
                "payment %s of %s for no known intent: %s",
                event.provider_txn_id,
                event.provider,
                exc,
            )
            return _problem(404, str(exc))
        except DomainError as exc:
            log.error("payment %s of %s refused: %s", event.provider_txn_id, event.provider, exc)
            return _problem(422, str(exc))
        log.info(
            "payment %s of %s: %d VND %s to account %d (intent %s)",
            event.provider_txn_id,
            event.provider,
            event.amount_vnd,
            "credited" if done.topup.created else "already credited",
            done.intent.account_id,
            event.reference,
        )
        return WebhookAnswer(
            200,
            {
                "status": "credited",
                "provider": event.provider,
                "provider_txn_id": event.provider_txn_id,
                "reference": event.reference,
                "account_id": done.intent.account_id,
                "amount_vnd": event.amount_vnd,
                "balance_vnd": done.topup.balance_vnd,
            },
        )
    raise AssertionError("unreachable")


def _fail(uow: UnitOfWork, event: PaymentEvent) -> WebhookAnswer:
    try:
        intent = fail_topup_intent(uow, event.provider, event.reference)
    except LookupError as exc:
        log.error("failed payment of %s for no known intent: %s", event.provider, exc)
        return _problem(404, str(exc))
    log.info(
        "payment %s of %s failed for intent %s: %s",
        event.provider_txn_id,
        event.provider,
        event.reference,
        intent.status.value,
    )
    return WebhookAnswer(
        200,
        {
            "status": intent.status.value,
            "provider": event.provider,
            "provider_txn_id": event.provider_txn_id,
            "reference": event.reference,
        },
    )


def _store(
    session_factory: sessionmaker[Session],
    key: str,
    digest: str,
    event: PaymentEvent | None,
    answer: WebhookAnswer,
) -> WebhookAnswer:
    """Keep the answer with the delivery, so a redelivery gets the same one."""
    with session_factory() as s:
        row = s.scalar(select(WebhookDelivery).where(WebhookDelivery.idempotency_key == key))
        if row is None:
            row = WebhookDelivery(idempotency_key=key, body_sha256=digest, response={})
            s.add(row)
        row.status_code, row.response = answer.status_code, answer.body
        if event is not None and answer.status_code == 200:
            row.account_id = answer.body["account_id"]
        try:
            s.commit()
        except IntegrityError:  # a concurrent delivery stored its answer first: the same one
            s.rollback()
    return answer
