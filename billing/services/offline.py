"""Billing's side of the edge's degraded mode: what the allow-list grants, how an offline
decision is recorded when its event is settled, and the offline exposure per lot and day.

Kept apart from settlement proper: ``settle_passage`` only swaps in the honouring policy
(``billing.domain.offline``) and calls :func:`record_offline` in its transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, insert, select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import GateDecision, PassageInput
from billing.domain.offline import exposure_vnd
from billing.domain.tariffs import price_stay
from billing.services.lots import lot_info
from billing.services.reads import LOCAL

log = logging.getLogger(__name__)


def record_offline(uow: UnitOfWork, p: PassageInput, decision: GateDecision) -> int:
    """Keep the edge's decision next to billing's (same transaction); returns the exposure."""
    grant = p.offline
    if grant is None:
        return 0
    exposure = 0
    if grant.opened and decision.open:
        exposure = exposure_vnd(
            p.direction, decision.reason, decision.fare_vnd, decision.balance_vnd
        )
    elif grant.opened and p.direction == "exit":  # billing refused it, the car is out anyway
        exposure = decision.fare_vnd or 0
    uow.connection.execute(
        insert(orm.table_of(orm.OfflineDecision)).values(
            event_id=p.event_id,
            passage_id=decision.passage_id,
            lot_id=p.lot_id,
            gate_id=p.gate_id,
            direction=p.direction,
            local_day=p.captured_at.astimezone(LOCAL).date(),
            decided_at=grant.decided_at,
            edge_opened=grant.opened,
            edge_reason=grant.reason[:30],
            credit_vnd=grant.credit_vnd,
            edge_fare_vnd=grant.fare_vnd,
            allowlist_version=grant.allowlist_version,
            opened=decision.open,
            reason=decision.reason,
            fare_vnd=decision.fare_vnd,
            exposure_vnd=exposure,
            created_at=uow.clock(),
        )
    )
    if exposure:
        log.warning(
            "passage %s opened offline at %s/%s: %d VND not covered by the balance",
            p.event_id,
            p.lot_id,
            p.gate_id,
            exposure,
        )
    return exposure


def record_late_offline(uow: UnitOfWork, p: PassageInput, stored: GateDecision) -> None:
    """The edge's decision of a passage billing had settled before it arrived (the original
    event reached billing first; call inside ``with uow``, which this commits).

    Billing's decision stands; the edge's is recorded next to it once. An exit it opened that
    billing had refused waits in the review queue (a refused exit always does), and its fare
    counts as exposure: the car is gone. Its held session is closed by the car's next entry.
    """
    if uow.session.get(orm.OfflineDecision, p.event_id) is not None:
        return
    grant = p.offline
    assert grant is not None
    if grant.opened and not stored.open:
        log.error(
            "passage %s at %s/%s: billing refused it (%s) before the edge's offline decision "
            "arrived, and the edge had opened: the vehicle passed; the case is in review",
            p.event_id,
            p.lot_id,
            p.gate_id,
            stored.reason,
        )
    record_offline(uow, p, stored)
    uow.commit()


@dataclass(frozen=True)
class OfflineExposure:
    """One lot's offline decisions on one local day."""

    lot_id: str
    day: date
    decisions: int  # events the edge decided alone
    opened: int  # of which it opened
    fares_vnd: int  # fares of its exits, as billing priced them
    exposure_vnd: int  # what the balances did not cover (overdraft or review)
    to_review: int  # passages opened offline that wait in the review queue


def offline_exposure(
    uow: UnitOfWork, day: date | None = None, lot_id: str | None = None
) -> list[OfflineExposure]:
    """Offline decisions per lot and local day (one day, or every day), oldest first."""
    d = orm.OfflineDecision
    p = orm.Passage
    q = (
        select(
            d.lot_id,
            d.local_day,
            func.count(),
            func.sum(case((d.edge_opened.is_(True), 1), else_=0)),
            func.coalesce(func.sum(d.fare_vnd), 0),
            func.coalesce(func.sum(d.exposure_vnd), 0),
            func.sum(case((p.review_status == "pending", 1), else_=0)),
        )
        .join(p, p.id == d.passage_id)
        .group_by(d.lot_id, d.local_day)
        .order_by(d.local_day, d.lot_id)
    )
    if day is not None:
        q = q.where(d.local_day == day)
    if lot_id is not None:
        q = q.where(d.lot_id == lot_id)
    with uow:
        rows = uow.session.execute(q).all()
    return [
        OfflineExposure(r[0], r[1], int(r[2]), int(r[3] or 0), int(r[4]), int(r[5]), int(r[6] or 0))
        for r in rows
    ]


# --- the allow-list's content -------------------------------------------------------------


@dataclass(frozen=True)
class AllowlistContent:
    lot_id: str
    max_fare_vnd: int
    cap_vnd: int
    credits: dict[str, int]  # plate key -> min(balance, cap), 0 when the balance is not positive
    left_out: int  # active plates beyond the size limit (lowest credits go first)


def lot_max_fare(uow: UnitOfWork, lot_id: str, at: datetime) -> int:
    """What an exit opened offline must be covered for: the lot's ``offline_max_fare_vnd``,
    or else a 24-hour stay of its dearest vehicle class priced by the tariff in force (call
    inside ``with uow``)."""
    lot = lot_info(uow, lot_id)
    if lot is None:
        raise LookupError(f"no lot {lot_id!r}")
    if lot.policy.offline_max_fare_vnd:
        return lot.policy.offline_max_fare_vnd
    tariff = uow.tariffs.in_force(lot.tariff_id, at)
    entry = at - timedelta(days=1)
    return max((price_stay(tariff, cls, entry, at).amount_vnd for cls in tariff.classes), default=0)


def allowlist_content(
    uow: UnitOfWork, lot_id: str, at: datetime, max_entries: int = 40_000
) -> AllowlistContent:
    """The plates of active vehicles of active accounts, each with its offline credit."""
    v, a = orm.Vehicle, orm.TransportAccount
    with uow:
        lot = lot_info(uow, lot_id, fresh=True)
        if lot is None:
            raise LookupError(f"no lot {lot_id!r}")
        cap = lot.policy.offline_credit_cap_vnd
        max_fare = lot_max_fare(uow, lot_id, at)
        rows = uow.session.execute(
            select(v.plate_key, a.balance_vnd)
            .join(a, a.id == v.account_id)
            .where(v.active.is_(True), a.status == "active")
        ).all()
    credits: dict[str, int] = {}
    for key, balance in rows:
        if not key or not key.isalnum() or not 4 <= len(key) <= 12:
            continue
        credit = max(0, min(int(balance), cap))
        credits[key] = max(credit, credits.get(key, 0))
    left_out = max(0, len(credits) - max_entries)
    if left_out:
        kept = sorted(credits.items(), key=lambda kv: (-kv[1], kv[0]))[:max_entries]
        credits = dict(kept)
        log.error(
            "allow-list of lot %s: %d active plates over the limit of %d left out (lowest "
            "credits); they wait for the center during an outage",
            lot_id,
            left_out,
            max_entries,
        )
    return AllowlistContent(lot_id, max_fare, cap, credits, left_out)
