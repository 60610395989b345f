"""Asking a provider to pull an auto top-up from a driver's linked account (billing's
``TopUpProvider`` port, over HTTP).

The request is signed like a webhook, with the secret the provider gave us, and carries the
intent's reference as its idempotency key: asked again, the provider answers with the same
transaction and takes the money once. Its answer is no payment: the money enters the account
when the provider's signed webhook reports it (``gateway.payments.webhook``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import httpx

from gateway.payments.providers import PaymentProvider
from gateway.payments.signing import signed_headers


class PullProvider:
    def __init__(self, provider: PaymentProvider, *, timeout_s: float = 10.0) -> None:
        if provider.charge_url is None:
            raise ValueError(f"payment provider {provider.name} takes no pull requests")
        self.provider = provider
        self.name = provider.name
        self._url = provider.charge_url
        self._timeout = timeout_s

    def charge(self, account_id: int, amount_vnd: int, reference: str) -> str:
        body = json.dumps(
            {"reference": reference, "account_id": account_id, "amount_vnd": amount_vnd}
        ).encode()
        headers = signed_headers(self.provider.secret, body, idempotency_key=reference)
        answer = httpx.post(self._url, content=body, headers=headers, timeout=self._timeout)
        answer.raise_for_status()
        txn = answer.json().get("provider_txn_id")
        if not isinstance(txn, str) or not txn:
            raise ValueError(f"{self.name} answered without a transaction id: {answer.text[:200]}")
        return txn


def pull_providers(providers: Iterable[PaymentProvider]) -> dict[str, PullProvider]:
    """The providers that take pull requests, by name."""
    return {p.name: PullProvider(p) for p in providers if p.pulls}
