"""Starting a top-up: open the intent in billing, then send the driver to the provider's
checkout page for it. Shared by the API and the driver portal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from billing.adapters.uow import UnitOfWork
from billing.services.intents import IntentView, open_topup_intent
from gateway.auth.audit import record
from gateway.auth.principal import Principal
from gateway.payments.providers import PaymentProvider, checkout_redirect


class UnknownProvider(LookupError):
    """No payment provider of that name is configured here."""


@dataclass(frozen=True)
class Checkout:
    intent: IntentView
    url: str  # the provider's checkout page for this intent


def start_checkout(
    uow: UnitOfWork,
    providers: Mapping[str, PaymentProvider],
    account_id: int,
    provider_name: str,
    amount_vnd: int,
    return_url: Callable[[str], str],
) -> Checkout:
    """``return_url(reference)``: where the provider sends the driver back (the intent's page).

    Raises UnknownProvider, or billing's DomainError for an amount out of limits."""
    provider = providers.get(provider_name)
    if provider is None:
        raise UnknownProvider(f"no payment provider {provider_name!r}")
    intent = open_topup_intent(uow, account_id, provider.name, amount_vnd)
    url = checkout_redirect(
        provider,
        reference=intent.reference,
        amount_vnd=intent.amount_vnd,
        return_url=return_url(intent.reference),
    )
    return Checkout(intent, url)


def audit_checkout(session: Session, user: Principal, checkout: Checkout) -> None:
    """The audit line of a top-up asked for (the credit is billing's journal)."""
    intent = checkout.intent
    record(
        session,
        user,
        "account.top_up_intent",
        "account",
        intent.account_id,
        {
            "reference": intent.reference,
            "provider": intent.provider,
            "amount_vnd": intent.amount_vnd,
        },
    )
