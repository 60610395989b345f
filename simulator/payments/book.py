"""The provider's own record of the payments it took: one per (provider, reference), so a
double click on "pay", or a merchant's retried pull request, takes the money once."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Payment:
    provider: str
    txn_id: str
    reference: str
    amount_vnd: int
    account_id: int | None  # known for pulls (the merchant names the linked account)
    at: datetime
    event: str = "payment.succeeded"  # or "payment.failed": the payer cancelled or was declined


class PaymentBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payments: dict[tuple[str, str], Payment] = {}
        self._declined: set[tuple[str, str]] = set()
        self._numbers = itertools.count(1)

    def pay(
        self, provider: str, reference: str, amount_vnd: int, account_id: int | None = None
    ) -> tuple[Payment, bool]:
        """(the payment, True when it was taken now; False: taken before for this reference)."""
        with self._lock:
            known = self._payments.get((provider, reference))
            if known is not None:
                return known, False
            stamp = datetime.now(UTC)
            txn = f"{provider.upper()}-{stamp:%Y%m%d}-{next(self._numbers):06d}"
            paid = Payment(provider, txn, reference, amount_vnd, account_id, stamp)
            self._payments[(provider, reference)] = paid
            return paid, True

    def decline(
        self, provider: str, reference: str, amount_vnd: int
    ) -> tuple[Payment | None, bool]:
        """The payer cancelled: (a failed attempt to report, True), or (None, False) when the
        reference was paid already (then nothing failed) or declined before."""
        with self._lock:
            if (provider, reference) in self._payments or (provider, reference) in self._declined:
                return None, False
            stamp = datetime.now(UTC)
            txn = f"{provider.upper()}-{stamp:%Y%m%d}-{next(self._numbers):06d}"
            failed = Payment(provider, txn, reference, amount_vnd, None, stamp, "payment.failed")
            self._declined.add((provider, reference))
            return failed, True

    def payments(self, provider: str) -> list[Payment]:
        with self._lock:
            return [p for (name, _), p in self._payments.items() if name == provider]
