"""Reconciliation per lot and local day: passages, sessions, fares, ledger and invoices agree."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel
from sqlalchemy import select

from billing.adapters import orm as b
from gateway.api import billing_port, queries
from gateway.api.reports import today_local
from gateway.api.schemas import AUTH_ERRORS
from gateway.deps import OperatorUser, SessionDep, UowDep, release
from gateway.web.formatting import LOCAL_TZ

router = APIRouter(tags=["reconciliation"], responses=AUTH_ERRORS)


class LotFiguresOut(BaseModel):
    lot_id: str
    entries: int
    exits: int
    opened: int
    review_pending: int
    closed_sessions: int
    charged_sessions: int
    fares_vnd: int
    ledger_fares_vnd: int
    vat_vnd: int
    refunds_vnd: int
    invoices: int | None
    invoiced_vnd: int | None


class MismatchOut(BaseModel):
    lot_id: str | None
    kind: str
    ref: str
    detail: str


class ReconciliationOut(BaseModel):
    day: date
    ok: bool
    trial_balance_vnd: int
    lots: list[LotFiguresOut]
    mismatches: list[MismatchOut]


def _invoice_lookup(session: SessionDep, lots: list[str], day: date) -> Any:
    """Invoice totals of the day's passages, read before billing's transaction starts.

    Billing calls the lookup inside its own transaction; on SQLite a second connection would
    wait for that transaction's write lock, so the figures are gathered up front.
    """
    from einvoice.queries import invoices_by_event

    start = datetime.combine(day, datetime.min.time(), LOCAL_TZ) - timedelta(days=1)
    end = start + timedelta(days=3)
    event_ids = session.scalars(
        select(b.Passage.event_id).where(
            b.Passage.lot_id.in_(lots or [""]),
            b.Passage.captured_at >= start,
            b.Passage.captured_at < end,
        )
    ).all()
    sales = session.scalars(  # monthly pass sales are invoiced under their own event ids
        select(b.JournalEntry.event_id).where(
            b.JournalEntry.kind == "pass",
            b.JournalEntry.lot_id.in_(lots or [""]),
            b.JournalEntry.created_at >= start,
            b.JournalEntry.created_at < end,
            b.JournalEntry.event_id.is_not(None),
        )
    ).all()
    found = invoices_by_event(session, [*event_ids, *(e for e in sales if e)])

    def lookup(ids: Sequence[str]) -> dict[str, Any]:
        return {i: found[i] for i in ids if i in found}

    return lookup


@router.get("/reconciliation", response_model=ReconciliationOut)
def reconciliation(
    session: SessionDep,
    user: OperatorUser,
    uow: UowDep,
    day: date | None = None,
    lot_id: Annotated[str | None, Query(max_length=40)] = None,
) -> ReconciliationOut:
    """One local day (default today) for one lot or every lot this operator may see."""
    lots = queries.visible_lot_ids(session, user)
    if lot_id is not None and lot_id not in lots:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"no access to lot {lot_id}")
    wanted = [lot_id] if lot_id else lots
    day = day or today_local()
    lookup = _invoice_lookup(session, wanted, day)
    release(session)
    figures: list[LotFiguresOut] = []
    mismatches: list[MismatchOut] = []
    trial = 0
    for lid in wanted:
        rec = billing_port.reconciliation(uow, day, lid, lookup)
        trial = rec.trial_balance_vnd
        figures.extend(LotFiguresOut(**f.__dict__) for f in rec.lots)
        mismatches.extend(
            MismatchOut(**m.__dict__)
            for m in rec.mismatches
            if m.lot_id is None or m.lot_id in wanted
        )
    unique = list({(m.lot_id, m.kind, m.ref): m for m in mismatches}.values())
    return ReconciliationOut(
        day=day,
        ok=not unique and trial == 0,
        trial_balance_vnd=trial,
        lots=figures,
        mismatches=unique,
    )
