"""Double-entry postings: chart of accounts codes, balanced entries, idempotency fingerprints.

Sign convention: a line's ``amount_vnd`` is positive for a debit and negative for a credit, so
every entry sums to zero. Liabilities and revenue therefore carry negative (credit) balances:
a transport account's prepaid balance is ``-sum(lines on its liability account)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from billing.domain.model import DomainError

VAT_PAYABLE = "liability:vat_payable"


def prepaid_account(account_id: int) -> str:
    return f"liability:prepaid:{account_id}"


def revenue_account(lot_id: str) -> str:
    return f"revenue:lot:{lot_id}"


def clearing_account(provider: str) -> str:
    return f"asset:clearing:{provider}"


def account_kind(code: str) -> str:
    return code.split(":", 1)[0]


class IdempotencyConflict(DomainError):
    """The same idempotency key was used before with different content."""


@dataclass(frozen=True)
class Line:
    ledger_account: str
    amount_vnd: int  # + debit, - credit


@dataclass(frozen=True)
class Posting:
    """A journal entry before it is stored."""

    key: str
    kind: str  # fare | topup | refund | pass | adjustment
    lines: tuple[Line, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            raise DomainError("every journal entry needs an idempotency key")
        check_balanced(self.lines)

    @property
    def fingerprint(self) -> str:
        """What 'same content' means for an idempotency key: kind and lines, not the text."""
        body = json.dumps(
            [self.kind, sorted((ln.ledger_account, ln.amount_vnd) for ln in self.lines)],
            separators=(",", ":"),
        )
        return hashlib.sha256(body.encode()).hexdigest()


def check_balanced(lines: Sequence[Line]) -> None:
    if len(lines) < 2:
        raise DomainError("a journal entry has at least two lines")
    if any(not isinstance(ln.amount_vnd, int) or ln.amount_vnd == 0 for ln in lines):
        raise DomainError("journal lines are non-zero integer VND")
    total = sum(ln.amount_vnd for ln in lines)
    if total != 0:
        raise DomainError(f"journal entry is unbalanced by {total} VND")


def fare_posting(
    key: str,
    account_id: int,
    lot_id: str,
    fare_vnd: int,
    vat_vnd: int,
    description: str = "",
    kind: str = "fare",
) -> Posting:
    """Debit the driver's prepaid liability; credit the lot's revenue net of VAT and VAT payable."""
    if fare_vnd <= 0 or not 0 <= vat_vnd < fare_vnd:
        raise DomainError("a fare posting needs fare > 0 and 0 <= VAT < fare")
    lines = [
        Line(prepaid_account(account_id), fare_vnd),
        Line(revenue_account(lot_id), -(fare_vnd - vat_vnd)),
    ]
    if vat_vnd:
        lines.append(Line(VAT_PAYABLE, -vat_vnd))
    return Posting(key, kind, tuple(lines), description)


def topup_posting(
    key: str, account_id: int, provider: str, amount_vnd: int, description: str = ""
) -> Posting:
    if amount_vnd <= 0:
        raise DomainError("a top-up must be a positive amount")
    return Posting(
        key,
        "topup",
        (
            Line(clearing_account(provider), amount_vnd),
            Line(prepaid_account(account_id), -amount_vnd),
        ),
        description,
    )


def reversal(
    key: str,
    original: Iterable[Line],
    amount_vnd: int | None,
    original_total: int,
    description: str = "",
) -> Posting:
    """A refund: the original lines negated, scaled for a partial refund (VAT scaled alike).

    The rounding difference of a partial refund lands on the first credit line (revenue), so the
    driver gets back exactly ``amount_vnd`` and the entry stays balanced.
    """
    lines = list(original)
    if amount_vnd is None or amount_vnd == original_total:
        return Posting(
            key,
            "refund",
            tuple(Line(ln.ledger_account, -ln.amount_vnd) for ln in lines),
            description,
        )
    if not 0 < amount_vnd < original_total:
        raise DomainError(f"refund must be between 1 and {original_total} VND")
    scaled = [
        Line(ln.ledger_account, -(ln.amount_vnd * amount_vnd // original_total)) for ln in lines
    ]
    debit = [i for i, ln in enumerate(lines) if ln.amount_vnd > 0]
    if len(debit) == 1:
        scaled[debit[0]] = Line(lines[debit[0]].ledger_account, -amount_vnd)
    diff = sum(ln.amount_vnd for ln in scaled)
    j = next(i for i, ln in enumerate(lines) if ln.amount_vnd < 0)
    scaled[j] = Line(scaled[j].ledger_account, scaled[j].amount_vnd - diff)
    return Posting(key, "refund", tuple(ln for ln in scaled if ln.amount_vnd), description)
