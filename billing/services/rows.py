"""Plain rows for the settlement hot path, read and written with Core statements.

Loading a parking session and a transport account as ORM objects, then letting the unit of work
flush their changes at commit, costs more CPU than the rest of an exit put together. Settlement
reads the columns it needs into these dataclasses and writes them back with one UPDATE each
(``statements.q_close_session``, ``statements.q_set_balance``).

The protocols let the pricing, ledger and top-up functions take either these rows or the ORM
objects the review queue and the top-up services use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class SessionLike(Protocol):
    """What pricing and the invoice request read from a parking session."""

    @property
    def id(self) -> int: ...
    @property
    def plate_text(self) -> str: ...
    @property
    def vehicle_class(self) -> str | None: ...
    @property
    def entry_at(self) -> datetime: ...
    @property
    def exit_at(self) -> datetime | None: ...


class AccountLike(Protocol):
    """A transport account row the caller has locked; postings move ``balance_vnd``."""

    id: int
    balance_vnd: int

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def tax_code(self) -> str | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def low_balance_notice_vnd(self) -> int: ...
    @property
    def auto_topup_threshold_vnd(self) -> int | None: ...
    @property
    def auto_topup_amount_vnd(self) -> int | None: ...
    @property
    def invoice_email(self) -> str | None: ...
    @property
    def invoice_monthly(self) -> bool: ...


@dataclass
class OpenSession:
    """An open parking session, locked by the exit that closes it.

    ``held``: an exit kept this car at the barrier (payment ``unpaid``); closing the session
    resolves those review cases."""

    id: int
    plate_text: str
    vehicle_class: str | None
    entry_at: datetime
    exit_at: datetime | None = None
    held: bool = False


@dataclass
class LockedAccount:
    """A transport account row locked ``FOR UPDATE`` in this transaction."""

    id: int
    kind: str
    name: str
    tax_code: str | None
    address: str | None
    status: str
    balance_vnd: int
    low_balance_notice_vnd: int
    auto_topup_threshold_vnd: int | None
    auto_topup_amount_vnd: int | None
    auto_topup_provider: str | None = None
    invoice_email: str | None = None
    invoice_monthly: bool = False

    @staticmethod
    def from_row(row: Any) -> LockedAccount:
        """From a row of ``statements.ACCOUNT_COLUMNS`` (labelled ``acct_<name>``)."""
        return LockedAccount(
            row.acct_id,
            row.acct_kind,
            row.acct_name,
            row.acct_tax_code,
            row.acct_address,
            row.acct_status,
            row.acct_balance_vnd,
            row.acct_low_balance_notice_vnd,
            row.acct_auto_topup_threshold_vnd,
            row.acct_auto_topup_amount_vnd,
            row.acct_auto_topup_provider,
            row.acct_invoice_email,
            bool(row.acct_invoice_monthly),
        )
