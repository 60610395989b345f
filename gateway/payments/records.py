"""The verified webhook deliveries, as billing's reconciliation reads them
(``billing.services.reconcile_money.PaymentRecords``): which payments a provider reported in
a webhook whose signature verified."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.services.reconcile_money import VerifiedPayment
from gateway.orm import WebhookDelivery


def _payment(row: WebhookDelivery) -> VerifiedPayment:
    assert row.provider is not None and row.provider_txn_id is not None
    return VerifiedPayment(
        provider=row.provider,
        provider_txn_id=row.provider_txn_id,
        account_id=row.account_id,
        amount_vnd=int(row.amount_vnd or 0),
        credited=row.status_code == 200,
    )


class DeliveryRecords:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def verified(
        self, keys: Sequence[tuple[str, str]]
    ) -> Mapping[tuple[str, str], VerifiedPayment]:
        wanted = set(keys)
        if not wanted:
            return {}
        found: dict[tuple[str, str], VerifiedPayment] = {}
        with self.session_factory() as s:
            txns = sorted({txn for _, txn in wanted})
            for start in range(0, len(txns), 500):
                rows = s.scalars(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.provider_txn_id.in_(txns[start : start + 500]))
                    .order_by(WebhookDelivery.id)
                )
                for row in rows:
                    k = (row.provider or "", row.provider_txn_id or "")
                    if k in wanted and (k not in found or row.status_code == 200):
                        found[k] = _payment(row)
        return found

    def received(self, start: datetime, end: datetime) -> Sequence[VerifiedPayment]:
        with self.session_factory() as s:
            rows = s.scalars(
                select(WebhookDelivery).where(
                    WebhookDelivery.received_at >= start,
                    WebhookDelivery.received_at < end,
                    WebhookDelivery.provider.is_not(None),
                    WebhookDelivery.provider_txn_id.is_not(None),
                )
            )
            return [_payment(r) for r in rows]
