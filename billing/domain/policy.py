"""Per-lot policies for the passages a machine cannot simply settle: data, not code.

Each lot stores one :class:`LotPolicy` (JSON in the database). The settle service asks these
small pure functions what to do and never decides such cases on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from billing.domain.model import DomainError


class Outcome(StrEnum):
    """What a lane does with a passage the normal flow cannot settle.

    DENY keeps the barrier closed and shows the reason on the gate's display. At an exit the
    passage also goes to the review queue: the car is inside and has to get out, so an operator
    must see it. Its session stays open, so the car pays by itself on its next camera trigger
    once its balance covers the fare (or its account is active again); that exit, or an
    operator's charge or waive, resolves the queued case. At an entry the car can turn back:
    only a passage whose plate is in doubt (unreadable, entry while a session is open) is
    queued; an unknown plate or a suspended account is recorded with its reason.
    """

    DENY = "deny"  # keep the barrier closed and say why; at an exit, queue for an operator
    OPEN_REVIEW = "open_review"  # open, bill later: the passage goes to the review queue
    ALLOW = "allow"  # open without review (unknown plate at entry only)
    OVERDRAFT = "overdraft"  # low balance: debit down to -overdraft_limit_vnd
    REPLACE = "replace"  # entry while open: void the old session (to review), open a new one
    KEEP = "keep"  # entry while open: open the barrier, keep the old session
    CHARGE_FLAT = "charge_flat"  # exit without entry: debit exit_without_entry_fare_vnd
    REPEAT = "repeat"  # duplicate: repeat the earlier decision, never charge again
    # unsure entry read: open (no money moves at an entry), keep the read's hypotheses so the
    # exit matches against them and the session joins up
    OPEN_MATCH = "open_match"


_ALLOWED: dict[str, set[Outcome]] = {
    "unreadable": {Outcome.DENY, Outcome.OPEN_REVIEW},
    "unknown_plate_entry": {Outcome.ALLOW, Outcome.DENY, Outcome.OPEN_REVIEW},
    "unknown_plate_exit": {Outcome.DENY, Outcome.OPEN_REVIEW},
    "entry_while_open": {Outcome.REPLACE, Outcome.KEEP, Outcome.DENY},
    "exit_without_entry": {Outcome.DENY, Outcome.OPEN_REVIEW, Outcome.CHARGE_FLAT},
    "low_balance": {Outcome.DENY, Outcome.OVERDRAFT, Outcome.OPEN_REVIEW},
    "duplicate": {Outcome.REPEAT, Outcome.OPEN_REVIEW},
    "account_suspended": {Outcome.DENY, Outcome.OPEN_REVIEW},
    "unsure_entry": {Outcome.OPEN_MATCH, Outcome.DENY, Outcome.OPEN_REVIEW},
}


@dataclass(frozen=True)
class LotPolicy:
    duplicate_window_s: int = 30
    duplicate: Outcome = Outcome.REPEAT
    min_plate_confidence: float = 0.80
    unreadable: Outcome = Outcome.DENY
    unknown_plate_entry: Outcome = Outcome.DENY
    unknown_plate_exit: Outcome = Outcome.DENY
    entry_while_open: Outcome = Outcome.REPLACE
    exit_without_entry: Outcome = Outcome.OPEN_REVIEW
    exit_without_entry_fare_vnd: int = 0
    low_balance: Outcome = Outcome.DENY
    overdraft_limit_vnd: int = 0
    account_suspended: Outcome = Outcome.DENY
    # Closed-world matching (billing.domain.matching; docs/no-stop.md): a read that comes with
    # the reader's evidence settles alone when one candidate's posterior reaches the threshold.
    # Calibrated on the dev set (bench/no_stop.py) for wrong charges <= 0.05%.
    match_threshold: float = 0.999
    # prior of "the car is none of the candidates" (entered unseen, tailgated, foreign plate)
    match_not_inside_prior: float = 0.02
    # an entry read that matches no registered vehicle surely (only with the reader's evidence)
    unsure_entry: Outcome = Outcome.OPEN_MATCH
    # The most offline credit the lot's edge may grant one plate (the signed allow-list carries
    # the smaller of this and the account's balance); 0: the edge never opens on its own.
    offline_credit_cap_vnd: int = 200_000
    # The fare an exit opened offline must be covered for (deducted locally at the edge);
    # 0: a 24-hour stay of the tariff's dearest vehicle class.
    offline_max_fare_vnd: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", "float") and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (f.type == "int" and not isinstance(value, int))
            ):
                kind = "a whole number" if f.type == "int" else "a number"
                raise DomainError(f"policy {f.name}={value!r} is not {kind}")
        for name, allowed in _ALLOWED.items():
            raw = getattr(self, name)
            value = Outcome(raw) if raw in Outcome._value2member_map_ else None
            if value is None or value not in allowed:
                options = ", ".join(sorted(a.value for a in allowed))
                raise DomainError(f"policy {name}={raw} is not one of: {options}")
            object.__setattr__(self, name, value)
        if (
            self.duplicate_window_s < 0
            or self.overdraft_limit_vnd < 0
            or self.offline_credit_cap_vnd < 0
            or self.offline_max_fare_vnd < 0
        ):
            raise DomainError("windows and limits cannot be negative")
        if not 0.0 <= self.min_plate_confidence <= 1.0:
            raise DomainError("min_plate_confidence is between 0 and 1")
        if not 0.5 < self.match_threshold <= 1.0:
            raise DomainError("match_threshold is above 0.5 and at most 1")
        if not 0.0 < self.match_not_inside_prior < 1.0:
            raise DomainError("match_not_inside_prior is strictly between 0 and 1")
        if self.exit_without_entry is Outcome.CHARGE_FLAT and self.exit_without_entry_fare_vnd <= 0:
            raise DomainError("charge_flat needs exit_without_entry_fare_vnd > 0")

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}

    @staticmethod
    def from_dict(raw: dict[str, Any] | None) -> LotPolicy:
        raw = dict(raw or {})
        known = {f.name for f in fields(LotPolicy)}
        unknown = set(raw) - known
        if unknown:
            raise DomainError(f"unknown policy fields: {', '.join(sorted(unknown))}")
        try:
            return LotPolicy(**raw)
        except ValueError as exc:
            raise DomainError(str(exc)) from None

    def with_changes(self, **changes: Any) -> LotPolicy:
        return LotPolicy.from_dict({**self.to_dict(), **changes})


def debit_allowed(policy: LotPolicy, balance_vnd: int, fare_vnd: int) -> bool:
    """Whether a fare may be debited now; the floor is 0 or the overdraft limit."""
    floor = -policy.overdraft_limit_vnd if policy.low_balance is Outcome.OVERDRAFT else 0
    return balance_vnd - fare_vnd >= floor


def plate_readable(
    policy: LotPolicy, canonical: str | None, confidence: float, needs_review: bool
) -> bool:
    """Never guess a plate to charge: a syntax failure or low confidence goes to review."""
    return canonical is not None and not needs_review and confidence >= policy.min_plate_confidence
