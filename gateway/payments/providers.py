"""Payment providers as data: name, label, webhook secret, checkout URL (and, for auto top-up,
a URL that pulls from a linked account). ``PARKING_PAYMENT_PROVIDERS`` lists them as JSON.

No provider configured (``parking serve``'s default): no top-up button, no checkout, and every
webhook refused. ``parking demo`` configures the simulated ones it starts
(``simulator.payments``). A real provider is one more entry, with the secret it issued.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Literal
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from gateway.payments.signing import sign_fields

ProviderKind = Literal["qr", "wallet", "bank_transfer", "card"]


class PaymentProvider(BaseModel):
    """One provider, as ``PARKING_PAYMENT_PROVIDERS`` names it (a JSON list of these)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$", description="in webhooks and ledger")
    label: str = Field(min_length=1, max_length=80, description="what drivers read")
    kind: ProviderKind = "qr"
    webhook_secret: SecretStr = Field(description="the HMAC key the provider signs with")
    checkout_url: str = Field(description="where a driver pays (redirect target)")
    charge_url: str | None = Field(
        default=None, description="pulls from a linked account (auto top-up); none: no pulls"
    )

    @field_validator("webhook_secret")
    @classmethod
    def _strong(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("a webhook secret has at least 16 characters")
        return value

    @field_validator("checkout_url", "charge_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @property
    def secret(self) -> str:
        return self.webhook_secret.get_secret_value()

    @property
    def pulls(self) -> bool:
        return self.charge_url is not None


def directory(providers: Iterable[PaymentProvider]) -> dict[str, PaymentProvider]:
    """Providers by name (a name given twice is a configuration error)."""
    found: dict[str, PaymentProvider] = {}
    for p in providers:
        if p.name in found:
            raise ValueError(f"payment provider {p.name!r} is configured twice")
        found[p.name] = p
    return found


def labels(providers: Iterable[PaymentProvider]) -> dict[str, str]:
    """What a driver is shown for each provider's name (receipts, the portal)."""
    return {p.name: p.label for p in providers}


def checkout_redirect(
    provider: PaymentProvider,
    *,
    reference: str,
    amount_vnd: int,
    return_url: str,
    now: float | None = None,
) -> str:
    """The provider's checkout page for this intent, its fields signed with our shared secret
    (as VNPay's ``vnp_SecureHash``): the page shows and charges exactly what we asked."""
    ts = int(time.time() if now is None else now)
    fields = {
        "reference": reference,
        "amount_vnd": str(amount_vnd),
        "return_url": return_url,
        "ts": str(ts),
    }
    fields["signature"] = sign_fields(provider.secret, ts, fields)
    separator = "&" if urlsplit(provider.checkout_url).query else "?"
    return provider.checkout_url + separator + urlencode(fields)


def public_view(providers: Mapping[str, PaymentProvider]) -> list[dict[str, object]]:
    """What a client may know of the providers: never a secret or an internal URL."""
    return [
        {"name": p.name, "label": p.label, "kind": p.kind, "auto_top_up": p.pulls}
        for p in providers.values()
    ]
