"""Reconciliation per lot and local day: passages, sessions, fares, ledger and invoices agree."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from gateway.api import billing_port, queries
from gateway.api.reports import today_local
from gateway.api.schemas import AUTH_ERRORS
from gateway.deps import OperatorUser, SessionDep, SessionFactoryDep, UowDep, release

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


def reconcile_day(
    session: Session,
    factory: sessionmaker[Session],
    uow: Any,
    lots: list[str],
    day: date,
) -> ReconciliationOut:
    """Billing's reconciliation of these lots for one local day, invoices included.

    Billing asks einvoice's lookup for the invoices of the events it owes one, after its own
    transaction (so on SQLite the lookup's connection never waits for billing's write lock).
    """
    from einvoice.queries import event_lookup

    lookup = event_lookup(factory)
    release(session)
    figures: list[LotFiguresOut] = []
    mismatches: list[MismatchOut] = []
    trial = 0
    for lid in lots:
        rec = billing_port.reconciliation(uow, day, lid, lookup)
        trial = rec.trial_balance_vnd
        figures.extend(LotFiguresOut(**f.__dict__) for f in rec.lots)
        mismatches.extend(
            MismatchOut(**m.__dict__)
            for m in rec.mismatches
            if m.lot_id is None or m.lot_id in lots
        )
    unique = list({(m.lot_id, m.kind, m.ref): m for m in mismatches}.values())
    return ReconciliationOut(
        day=day,
        ok=not unique and trial == 0,
        trial_balance_vnd=trial,
        lots=figures,
        mismatches=unique,
    )


@router.get("/reconciliation", response_model=ReconciliationOut)
def reconciliation(
    session: SessionDep,
    factory: SessionFactoryDep,
    user: OperatorUser,
    uow: UowDep,
    day: date | None = None,
    lot_id: Annotated[str | None, Query(max_length=40)] = None,
) -> ReconciliationOut:
    """One local day (default today) for one lot or every lot this operator may see."""
    lots = queries.visible_lot_ids(session, user)
    if lot_id is not None and lot_id not in lots:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"no access to lot {lot_id}")
    return reconcile_day(session, factory, uow, [lot_id] if lot_id else lots, day or today_local())
