"""Passages a lot's edge decided alone while the center was unreachable: pure rules.

The edge opens for allow-listed plates and lets a car out when its offline credit (the smaller
of its balance and the lot's cap, as the signed allow-list granted it) covers the lot's maximum
fare. When the event reaches billing later, the barrier has already moved, so settlement must
honour it: an opened passage is never answered "closed", whatever the lot's policy would have
said. The account pays as usual; if it can no longer cover the fare, the debit may overdraw it
down to the credit the edge counted on, never below (the rest waits in the review queue). What
was let out on credit that the balance did not cover is the lot's offline exposure,
reconciled per lot and day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.domain.decisions import Reason
from billing.domain.policy import LotPolicy, Outcome


@dataclass(frozen=True)
class OfflineGrant:
    """The edge's own decision, as the event carried it (``decided_offline``)."""

    opened: bool
    reason: str  # the edge's: allowlisted, credit_covers, not_allowlisted, ...
    decided_at: datetime
    credit_vnd: int = 0  # the plate's remaining offline credit before this passage
    fare_vnd: int = 0  # what the edge deducted locally (the lot's maximum fare)
    plate_key: str | None = None
    allowlist_version: int | None = None


def honouring_policy(policy: LotPolicy, grant: OfflineGrant | None) -> LotPolicy:
    """The lot's policy for a passage the edge opened: every outcome that would keep the
    barrier closed becomes "opened, to review", and a low balance may be overdrawn down to the
    credit granted (or the lot's own overdraft limit, if larger). A passage the edge kept
    closed, or one it did not decide, is settled under the lot's policy unchanged."""
    if grant is None or not grant.opened:
        return policy
    own_limit = policy.overdraft_limit_vnd if policy.low_balance is Outcome.OVERDRAFT else 0

    def opened(outcome: Outcome) -> Outcome:
        return Outcome.OPEN_REVIEW if outcome is Outcome.DENY else outcome

    return policy.with_changes(
        unreadable=opened(policy.unreadable),
        unknown_plate_entry=opened(policy.unknown_plate_entry),
        unknown_plate_exit=opened(policy.unknown_plate_exit),
        entry_while_open=(
            Outcome.KEEP if policy.entry_while_open is Outcome.DENY else policy.entry_while_open
        ),
        exit_without_entry=opened(policy.exit_without_entry),
        low_balance=Outcome.OVERDRAFT,
        overdraft_limit_vnd=max(own_limit, grant.credit_vnd),
        account_suspended=opened(policy.account_suspended),
        unsure_entry=opened(policy.unsure_entry),
    )


# Reasons under which an exit was debited in full (what the balance did not cover is exposure).
_DEBITED = {Reason.EXIT_PAID.value, Reason.EXIT_OVERDRAFT.value}
_FREE = {Reason.EXIT_FREE.value, Reason.DUPLICATE.value}


def exposure_vnd(direction: str, reason: str, fare_vnd: int | None, balance_vnd: int | None) -> int:
    """What an exit opened offline let out that the account's money did not cover: the part
    of a debited fare below zero, or the whole fare when it could not be debited (review)."""
    if direction != "exit" or not fare_vnd or reason in _FREE:
        return 0
    if reason in _DEBITED:
        after = balance_vnd or 0
        return min(fare_vnd, max(0, -after))
    return fare_vnd
