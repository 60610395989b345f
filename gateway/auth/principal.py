"""The signed-in person as the routes see it: role plus the scope they may act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["driver", "operator", "admin"]


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    role: Role
    account_id: str | None = None
    lot_ids: frozenset[str] = field(default_factory=frozenset)
    companies: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_operator(self) -> bool:
        return self.role in ("operator", "admin")

    def can_see_lot(self, lot_id: str, company: str | None = None) -> bool:
        if self.is_admin:
            return True
        if self.role != "operator":
            return False
        return str(lot_id) in self.lot_ids or (company is not None and company in self.companies)

    def owns_account(self, account_id: object) -> bool:
        return self.account_id is not None and str(account_id) == self.account_id

    def can_see_account(self, account_id: object) -> bool:
        """A driver sees their own account, an admin any; operators work on lots, not accounts."""
        return self.is_admin or self.owns_account(account_id)
