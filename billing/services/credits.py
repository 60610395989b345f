"""An operator's manual credit to a transport account: goodwill, a correction, an opening
balance. Not a top-up: no money came in from a payment provider, so it is its own journal kind
(``credit``, charged to ``expense:operator_credits``) with the operator's name, a reason and a
request id beside it; reconciliation lists every one and reports a credit without them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.ledger import IdempotencyConflict, Line, Posting, prepaid_account
from billing.domain.model import AccountStatus, DomainError
from billing.domain.payments import OPERATOR_CREDITS, ManualCreditRequest
from billing.services.ledger import ensure_ledger_account, lock_account, post


@dataclass(frozen=True)
class CreditResult:
    journal_entry_id: int
    balance_vnd: int
    created: bool  # False: this request id credited before (nothing added)


def manual_credit(
    uow: UnitOfWork, account_id: int, amount_vnd: int, *, key: str, actor: str, reason: str
) -> CreditResult:
    """Credit ``amount_vnd`` once per request id ``key``; the same id for another credit is an
    error."""
    request = ManualCreditRequest(amount_vnd, key.strip(), actor.strip(), reason.strip())
    with uow:
        s = uow.session
        acct = lock_account(s, account_id)
        prior = s.scalar(
            select(orm.ManualCredit).where(orm.ManualCredit.request_key == request.key)
        )
        if prior is not None:
            if (prior.account_id, prior.amount_vnd) != (account_id, amount_vnd):
                raise IdempotencyConflict(f"credit request {request.key!r} was another credit")
            return CreditResult(prior.journal_entry_id, acct.balance_vnd, False)
        if acct.status == AccountStatus.CLOSED.value:
            raise DomainError(f"account {account_id} is closed", "account_closed")
        ensure_ledger_account(s, OPERATOR_CREDITS, "Operators' credits (goodwill, corrections)")
        posted = post(
            s,
            Posting(
                f"credit:{request.key}",
                "credit",
                (
                    Line(OPERATOR_CREDITS, amount_vnd),
                    Line(prepaid_account(account_id), -amount_vnd),
                ),
                f"credit by {request.actor}: {request.reason}"[:500],
            ),
            account=acct,
        )
        s.add(
            orm.ManualCredit(
                request_key=request.key,
                account_id=account_id,
                amount_vnd=amount_vnd,
                actor=request.actor,
                reason=request.reason,
                journal_entry_id=posted.entry_id,
            )
        )
        uow.commit()
        return CreditResult(posted.entry_id, acct.balance_vnd, True)
