"""An account's statement: every movement of its prepaid balance with the balance after it,
and the invoice each paid trip or pass got.

Why from the ledger and not the account's balance column: the running balance must add up
line by line, and only the journal has the lines. A page of the newest lines needs one sum (of
everything up to the page's newest line) and is then walked backwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.adapters import orm as b
from billing.domain.ledger import prepaid_account
from gateway.api.access import AccessFirstRoute, AccountId
from gateway.api.accounts import NO_ACCOUNT, load_account
from gateway.api.schemas import AUTH_ERRORS, Page, PagingDep
from gateway.deps import CurrentUser, SessionDep

router = APIRouter(tags=["accounts"], responses=AUTH_ERRORS, route_class=AccessFirstRoute)


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    at: datetime
    kind: str  # fare | topup | refund | pass | adjustment
    change_vnd: int  # + money in, - money out
    balance_vnd: int  # after this line
    event_id: str | None
    lot_id: str | None
    plate: str | None  # the trip's plate, for fares and their refunds
    provider: str | None  # the payment provider, for top-ups
    invoice_id: int | None


@dataclass(frozen=True)
class Statement:
    lines: list[StatementLine]
    total: int


def statement(session: Session, account_id: int, limit: int = 50, offset: int = 0) -> Statement:
    je, jl = b.JournalEntry, b.JournalLine
    ledger = prepaid_account(account_id)
    mine = jl.ledger_account == ledger
    total = int(session.scalar(select(func.count()).select_from(jl).where(mine)) or 0)
    rows = session.execute(
        select(je.id, je.created_at, je.kind, je.event_id, je.lot_id, jl.amount_vnd)
        .join(jl, jl.entry_id == je.id)
        .where(mine)
        .order_by(je.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    if not rows:
        return Statement([], total)
    # Prepaid is a liability: a credit (negative line) is money the driver has.
    balance = -int(
        session.scalar(
            select(func.coalesce(func.sum(jl.amount_vnd), 0)).where(mine, jl.entry_id <= rows[0].id)
        )
        or 0
    )
    plates = _plates(session, [r.event_id for r in rows if r.event_id])
    providers = dict(
        session.execute(
            select(b.TopUp.journal_entry_id, b.TopUp.provider).where(
                b.TopUp.journal_entry_id.in_([r.id for r in rows])
            )
        ).all()
    )
    invoices = invoice_ids(session, [r.event_id for r in rows if r.event_id])
    lines = []
    for r in rows:
        change = -int(r.amount_vnd)
        lines.append(
            StatementLine(
                entry_id=r.id,
                at=r.created_at,
                kind=r.kind,
                change_vnd=change,
                balance_vnd=balance,
                event_id=r.event_id,
                lot_id=r.lot_id,
                plate=plates.get(r.event_id or ""),
                provider=providers.get(r.id),
                invoice_id=invoices.get(r.event_id or "") if r.kind != "topup" else None,
            )
        )
        balance -= change
    return Statement(lines, total)


def _plates(session: Session, event_ids: Sequence[str]) -> dict[str, str]:
    if not event_ids:
        return {}
    rows = session.execute(
        select(b.Passage.event_id, b.Passage.plate_text).where(b.Passage.event_id.in_(event_ids))
    ).all()
    return {e: p for e, p in rows if p}


def invoice_ids(session: Session, event_ids: Iterable[str]) -> dict[str, int]:
    """The original invoice of each event (a trip's exit, a pass sale), where one is issued:
    its own, or the consolidated invoice of its month."""
    from einvoice.db import ORIGINAL, invoices, monthly_items

    ids = list(dict.fromkeys(e for e in event_ids if e))
    if not ids:
        return {}
    rows = session.execute(
        select(invoices.c.event_id, invoices.c.id).where(
            invoices.c.event_id.in_(ids), invoices.c.kind == ORIGINAL
        )
    ).all()
    found = {e: int(i) for e, i in rows}
    rest = [e for e in ids if e not in found]
    if rest:  # trips of an account with the monthly option: the month's invoice
        found.update(
            (e, int(i))
            for e, i in session.execute(
                select(monthly_items.c.request_key, monthly_items.c.invoice_id).where(
                    monthly_items.c.request_key.in_(rest), monthly_items.c.invoice_id.is_not(None)
                )
            )
        )
    return found


def trip_event_ids(session: Session, exit_passage_ids: Iterable[int | None]) -> dict[int, str]:
    """exit passage id -> its gate event id (the key of the trip's invoice)."""
    ids = [i for i in exit_passage_ids if i]
    if not ids:
        return {}
    rows = session.execute(
        select(b.Passage.id, b.Passage.event_id).where(b.Passage.id.in_(ids))
    ).all()
    return {int(i): e for i, e in rows}


class StatementLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    entry_id: int
    at: datetime
    kind: str
    change_vnd: int
    balance_vnd: int
    event_id: str | None
    lot_id: str | None
    plate: str | None
    provider: str | None
    invoice_id: int | None


@router.get(
    "/accounts/{account_id}/statement",
    response_model=Page[StatementLineOut],
    responses=NO_ACCOUNT,
)
def get_statement(
    account_id: AccountId, session: SessionDep, user: CurrentUser, paging: PagingDep
) -> Page[StatementLineOut]:
    """Movements of the prepaid balance, newest first, each with the balance after it."""
    load_account(session, user, account_id)
    st = statement(session, account_id, paging.limit, paging.offset)
    return Page(
        items=[StatementLineOut.model_validate(line) for line in st.lines],
        total=st.total,
        limit=paging.limit,
        offset=paging.offset,
    )
