"""Per-lot plate lists (blacklist, whitelist, VIP) and what each does at a gate: pure rules.

A lot keeps its lists as data (``billing_lot_lists``); settlement looks the plate up once per
passage and asks these functions what changes (docs/lot-lists.md):

- **blacklist**: the barrier stays closed at entry and exit, the gate shows "wait for staff",
  and an alert goes out. At an exit the passage also goes to the review queue (the car is
  inside and must be let out by a person); at an entry the car turns back.
- **whitelist** (staff, emergency and official vehicles): the barrier opens without a charge.
  An unregistered plate is let in; its exit is free (fare 0, the stay kept for the record).
- **VIP**: charged like anyone, but never kept waiting: an unregistered plate is let in (its
  exit goes to review to be billed), and a balance too low is debited into overdraft down to
  ``VIP_OVERDRAFT_VND`` below zero whatever the lot's low-balance policy.
"""

from __future__ import annotations

from enum import StrEnum

from billing.domain.model import DomainError
from billing.domain.policy import LotPolicy, Outcome

VIP_OVERDRAFT_VND = 1_000_000  # how far below zero a VIP's fare may take the balance


class ListKind(StrEnum):
    BLACKLIST = "blacklist"
    WHITELIST = "whitelist"
    VIP = "vip"


def list_kind(value: str) -> ListKind:
    try:
        return ListKind(value.strip().lower())
    except ValueError:
        raise DomainError(f"no such list {value!r}", "list_kind_invalid") from None


def blocks(kind: ListKind | None) -> bool:
    """A blacklisted plate: keep the barrier closed (and alert)."""
    return kind is ListKind.BLACKLIST


def free_exit(kind: ListKind | None) -> bool:
    """A whitelisted plate leaves without a charge."""
    return kind is ListKind.WHITELIST


def listed_policy(kind: ListKind | None, policy: LotPolicy) -> LotPolicy:
    """The lot's policy as it applies to a plate on ``kind``'s list."""
    if kind is ListKind.WHITELIST:
        return policy.with_changes(
            unknown_plate_entry=Outcome.ALLOW,
            entry_while_open=Outcome.KEEP,
            account_suspended=Outcome.OPEN_REVIEW,
        )
    if kind is ListKind.VIP:
        return policy.with_changes(
            unknown_plate_entry=Outcome.ALLOW,
            unknown_plate_exit=Outcome.OPEN_REVIEW,
            entry_while_open=Outcome.KEEP,
            low_balance=Outcome.OVERDRAFT,
            overdraft_limit_vnd=max(policy.overdraft_limit_vnd, VIP_OVERDRAFT_VND),
        )
    return policy
