"""Money coming in: the rules of top-up intents and of an operator's manual credits.

Money enters a transport account only through a payment provider's signed webhook, against a
top-up intent: the driver (or the auto top-up worker) first asks for an amount from one
provider, the provider takes the money, and its webhook names the intent's reference. An
operator's manual credit (goodwill, an opening balance) is a different kind of journal entry
with a name and a reason on it, never a "top-up".
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from billing.domain.model import DomainError

MIN_TOP_UP_VND = 10_000
MAX_TOP_UP_VND = 10_000_000
CHECKOUT_TTL = timedelta(minutes=15)  # a driver's checkout left unpaid is shown as expired
AUTO_TTL = timedelta(days=1)
OPERATOR_CREDITS = "expense:operator_credits"  # what a manual credit is charged to


class IntentKind(StrEnum):
    CHECKOUT = "checkout"  # a driver pays on the provider's checkout page
    AUTO = "auto"  # the auto top-up worker asked the provider to pull from a linked account


class IntentStatus(StrEnum):
    PENDING = "pending"
    CREDITED = "credited"
    EXPIRED = "expired"  # pending past its time; a late webhook still credits it (money is real)
    # The provider's signed webhook said the payment did not go through (declined, cancelled);
    # a later successful payment for the same intent still credits it.
    FAILED = "failed"


def check_top_up_amount(amount_vnd: object) -> int:
    """An amount a driver may ask a provider for: whole VND within the limits."""
    if not isinstance(amount_vnd, int) or isinstance(amount_vnd, bool):
        raise DomainError("a top-up amount is a whole number of VND", "amount_invalid")
    if not MIN_TOP_UP_VND <= amount_vnd <= MAX_TOP_UP_VND:
        raise DomainError(
            f"a top-up is between {MIN_TOP_UP_VND} and {MAX_TOP_UP_VND} VND, not {amount_vnd}",
            "amount_invalid",
        )
    return amount_vnd


def new_reference() -> str:
    """The reference a provider echoes in its webhook: unguessable, short enough for a bank
    transfer's memo line (``NAP`` + 16 letters and digits)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand
    return "NAP" + "".join(secrets.choice(alphabet) for _ in range(16))


def auto_reference(request_key: str) -> str:
    """The intent of an auto top-up request (its outbox key): the same on every retry."""
    return f"auto:{request_key}"


def intent_status(stored: str, expires_at: datetime, now: datetime) -> IntentStatus:
    if stored == IntentStatus.CREDITED.value:
        return IntentStatus.CREDITED
    if stored == IntentStatus.FAILED.value:
        return IntentStatus.FAILED
    return IntentStatus.EXPIRED if now >= expires_at else IntentStatus.PENDING


@dataclass(frozen=True)
class ManualCreditRequest:
    """An operator's credit: who, why, and their request id (a retry credits once)."""

    amount_vnd: int
    key: str
    actor: str
    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount_vnd, int) or self.amount_vnd <= 0:
            raise DomainError("a credit is a positive whole number of VND")
        if not self.key.strip() or len(self.key) > 100:
            raise DomainError("a credit needs its request id (1-100 characters)")
        if not self.actor.strip():
            raise DomainError("a credit needs the operator's name")
        if not self.reason.strip():
            raise DomainError("say why the account is credited")
