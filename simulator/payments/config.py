"""The simulated providers and where they report payments."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["qr", "wallet", "bank_transfer", "card"]


@dataclass(frozen=True)
class SimProvider:
    name: str
    label: str
    kind: Kind
    secret: str  # issued to the merchant: signs our webhooks, verifies its requests
    pulls: bool = False  # takes pull requests from a linked account (auto top-up)
    bank_account: str = "0011 0023 4567 8"  # where a bank transfer goes (bank_transfer only)


@dataclass(frozen=True)
class ServiceConfig:
    providers: tuple[SimProvider, ...]
    webhook_url: str  # the merchant's webhook (POST /api/v1/payments/webhook)
    merchant: str = "Bãi đỗ xe không tiền mặt"
    max_attempts: int = 12  # a webhook not acknowledged after these many tries is given up
    retry_base_s: float = 0.5
    retry_max_s: float = 30.0
    by_name: dict[str, SimProvider] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.providers})


def demo_providers() -> tuple[SimProvider, ...]:
    """A VNPay-QR-style gateway, a MoMo-style wallet (which also pulls auto top-ups from a
    linked wallet) and a bank transfer, each with a fresh secret."""
    return (
        SimProvider("vnpay-qr", "VNPay QR (mô phỏng)", "qr", secrets.token_urlsafe(32)),
        SimProvider("momo", "Ví MoMo (mô phỏng)", "wallet", secrets.token_urlsafe(32), pulls=True),
        SimProvider(
            "bank-transfer",
            "Chuyển khoản ngân hàng (mô phỏng)",
            "bank_transfer",
            secrets.token_urlsafe(32),
        ),
    )


def merchant_settings(providers: tuple[SimProvider, ...], base_url: str) -> list[dict[str, object]]:
    """The merchant's side of the same providers, as ``PARKING_PAYMENT_PROVIDERS`` lists them."""
    return [
        {
            "name": p.name,
            "label": p.label,
            "kind": p.kind,
            "webhook_secret": p.secret,
            "checkout_url": f"{base_url}/checkout/{p.name}",
            "charge_url": f"{base_url}/api/{p.name}/charges" if p.pulls else None,
        }
        for p in providers
    ]
