"""The payment provider behind auto top-up: a bank or e-wallet that pulls money on request.

It is a remote party, so billing asks it only from a worker, never inside a settlement (the
barrier decision must not wait for anyone): see ``billing.services.autotopup``.
"""

from __future__ import annotations

from typing import Protocol


class TopUpProvider(Protocol):
    """Pulls ``amount_vnd`` for an account; returns the provider's transaction id.

    Idempotent by ``idempotency_key``: asked again with the same key (a retry after a timeout
    or a crash), it returns the same transaction id and takes no money twice.
    """

    name: str

    def charge(self, account_id: int, amount_vnd: int, idempotency_key: str) -> str: ...


class SimulatedAutoPay:
    """Stand-in for a linked bank/e-wallet: always approves, transaction id from the key."""

    name = "sim-autopay"

    def charge(self, account_id: int, amount_vnd: int, idempotency_key: str) -> str:
        return f"sim-{idempotency_key}"
