"""The payment provider behind auto top-up: a bank or e-wallet that pulls money on request.

It is a remote party, so billing asks it only from a worker, never inside a settlement (the
barrier decision must not wait for anyone): see ``billing.services.autotopup``. Its answer only
says the request was accepted: the money enters the account, as every top-up does, when the
provider's signed webhook reports the payment (``billing.services.intents.credit_topup``).
"""

from __future__ import annotations

from typing import Protocol


class TopUpProvider(Protocol):
    """Asks the provider to pull ``amount_vnd`` from the account's linked bank or wallet, for
    the top-up intent ``reference``; returns the provider's transaction id.

    Idempotent by ``reference``: asked again (a retry after a timeout or a crash), the provider
    returns the same transaction id and takes no money twice.
    """

    name: str

    def charge(self, account_id: int, amount_vnd: int, reference: str) -> str: ...
