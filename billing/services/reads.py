"""Read models for the API, the dashboard and the CLI: frozen views, never ORM rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.ledger import prepaid_account
from billing.domain.plates import plate_key
from billing.domain.vn import LOCAL_TZ

LOCAL = LOCAL_TZ


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a local (Asia/Ho_Chi_Minh) calendar day, as aware datetimes."""
    start = datetime.combine(day, time(0), LOCAL)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class VehicleView:
    id: int
    account_id: int
    plate: str
    plate_key: str
    vehicle_class: str
    colour: str
    active: bool


@dataclass(frozen=True)
class AccountView:
    id: int
    kind: str
    name: str
    tax_code: str | None
    address: str | None
    phone: str | None
    email: str | None
    status: str
    balance_vnd: int
    auto_topup_threshold_vnd: int | None
    auto_topup_amount_vnd: int | None
    low_balance_notice_vnd: int
    vehicles: tuple[VehicleView, ...]
    invoice_email: str | None = None
    invoice_monthly: bool = False


@dataclass(frozen=True)
class PassageView:
    id: int
    event_id: str
    lot_id: str
    gate_id: str
    direction: str
    captured_at: datetime
    plate_read: str | None
    plate: str | None
    plate_confidence: float
    needs_review: bool
    image_ref: str | None
    account_id: int | None
    session_id: int | None
    opened: bool
    reason: str
    fare_vnd: int | None
    review_status: str | None
    display: str


@dataclass(frozen=True)
class SessionView:
    id: int
    lot_id: str
    plate: str
    account_id: int | None
    vehicle_class: str | None
    status: str
    entry_at: datetime
    exit_at: datetime | None
    fare_vnd: int | None
    fare_lines: tuple[dict[str, Any], ...]
    tariff_version: str | None
    payment: str | None


@dataclass(frozen=True)
class StatementLine:
    """One movement of a prepaid balance, from the driver's side (+ top-up, - fare)."""

    entry_id: int
    created_at: datetime
    kind: str
    description: str
    event_id: str | None
    change_vnd: int
    balance_vnd: int


@dataclass(frozen=True)
class RevenueRow:
    day: date
    lot_id: str
    vehicle_class: str
    exits: int
    fare_vnd: int


@dataclass(frozen=True)
class Occupancy:
    lot_id: str
    name: str
    capacity: int
    occupied: int


@dataclass(frozen=True)
class GateView:
    id: str
    lot_id: str
    direction: str
    name: str
    status: str
    status_at: datetime | None


@dataclass(frozen=True)
class LotView:
    id: str
    name: str
    address: str
    operator_id: str
    tariff_id: str
    capacity: int
    policy: dict[str, Any]


@dataclass(frozen=True)
class ReviewActionView:
    id: int
    passage_id: int
    action: str
    actor: str
    at: datetime
    details: dict[str, Any]


def _vehicle(v: orm.Vehicle) -> VehicleView:
    return VehicleView(
        v.id, v.account_id, v.plate_text, v.plate_key, v.vehicle_class, v.plate_colour, v.active
    )


def _account(a: orm.TransportAccount, vehicles: list[orm.Vehicle]) -> AccountView:
    return AccountView(
        a.id,
        a.kind,
        a.name,
        a.tax_code,
        a.address,
        a.phone,
        a.email,
        a.status,
        a.balance_vnd,
        a.auto_topup_threshold_vnd,
        a.auto_topup_amount_vnd,
        a.low_balance_notice_vnd,
        tuple(_vehicle(v) for v in vehicles),
        a.invoice_email,
        bool(a.invoice_monthly),
    )


def _passage(p: orm.Passage) -> PassageView:
    return PassageView(
        p.id,
        p.event_id,
        p.lot_id,
        p.gate_id,
        p.direction,
        p.captured_at,
        p.plate_read,
        p.plate_text,
        p.plate_confidence,
        p.needs_review,
        p.image_ref,
        p.account_id,
        p.session_id,
        p.opened,
        p.reason,
        p.fare_vnd,
        p.review_status,
        (p.decision or {}).get("display", ""),
    )


def _session(s: orm.ParkingSession) -> SessionView:
    return SessionView(
        s.id,
        s.lot_id,
        s.plate_text,
        s.account_id,
        s.vehicle_class,
        s.status,
        s.entry_at,
        s.exit_at,
        s.fare_vnd,
        tuple(s.fare_lines or ()),
        s.tariff_version,
        s.payment,
    )


def get_account(uow: UnitOfWork, account_id: int) -> AccountView | None:
    with uow:
        a = uow.session.get(orm.TransportAccount, account_id)
        if a is None:
            return None
        vehicles = list(
            uow.session.scalars(
                select(orm.Vehicle).where(orm.Vehicle.account_id == a.id).order_by(orm.Vehicle.id)
            )
        )
        return _account(a, vehicles)


def list_accounts(
    uow: UnitOfWork, search: str | None = None, limit: int = 100, offset: int = 0
) -> list[AccountView]:
    """Accounts by id; ``search`` matches a name, a tax code or a plate."""
    with uow:
        stmt = select(orm.TransportAccount).order_by(orm.TransportAccount.id)
        if search:
            like = f"%{search}%"
            by_plate = select(orm.Vehicle.account_id).where(
                orm.Vehicle.plate_key.like(f"%{plate_key(search)}%")
            )
            stmt = stmt.where(
                or_(
                    orm.TransportAccount.name.ilike(like),
                    orm.TransportAccount.tax_code.like(like),
                    orm.TransportAccount.id.in_(by_plate),
                )
            )
        accounts = list(uow.session.scalars(stmt.limit(limit).offset(offset)))
        vehicles: dict[int, list[orm.Vehicle]] = defaultdict(list)
        for v in uow.session.scalars(
            select(orm.Vehicle)
            .where(orm.Vehicle.account_id.in_([a.id for a in accounts]))
            .order_by(orm.Vehicle.id)
        ):
            vehicles[v.account_id].append(v)
        return [_account(a, vehicles[a.id]) for a in accounts]


def account_for_plate(uow: UnitOfWork, plate_text: str) -> AccountView | None:
    with uow:
        acct_id = uow.session.scalar(
            select(orm.Vehicle.account_id).where(
                orm.Vehicle.plate_key == plate_key(plate_text), orm.Vehicle.active.is_(True)
            )
        )
    return get_account(uow, acct_id) if acct_id is not None else None


def list_vehicles(
    uow: UnitOfWork, account_id: int | None = None, active_only: bool = True
) -> list[VehicleView]:
    with uow:
        stmt = select(orm.Vehicle).order_by(orm.Vehicle.id)
        if account_id is not None:
            stmt = stmt.where(orm.Vehicle.account_id == account_id)
        if active_only:
            stmt = stmt.where(orm.Vehicle.active.is_(True))
        return [_vehicle(v) for v in uow.session.scalars(stmt)]


def list_passages(
    uow: UnitOfWork,
    *,
    lot_id: str | None = None,
    account_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    review_pending: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[PassageView]:
    """Newest first."""
    with uow:
        stmt = select(orm.Passage).order_by(orm.Passage.captured_at.desc(), orm.Passage.id.desc())
        if lot_id:
            stmt = stmt.where(orm.Passage.lot_id == lot_id)
        if account_id is not None:
            stmt = stmt.where(orm.Passage.account_id == account_id)
        if since:
            stmt = stmt.where(orm.Passage.captured_at >= since)
        if until:
            stmt = stmt.where(orm.Passage.captured_at < until)
        if review_pending:
            stmt = stmt.where(orm.Passage.review_status == "pending")
        return [_passage(p) for p in uow.session.scalars(stmt.limit(limit).offset(offset))]


def review_queue(uow: UnitOfWork, lot_id: str | None = None, limit: int = 100) -> list[PassageView]:
    """Passages waiting for an operator, oldest first."""
    with uow:
        stmt = (
            select(orm.Passage)
            .where(orm.Passage.review_status == "pending")
            .order_by(orm.Passage.captured_at, orm.Passage.id)
        )
        if lot_id:
            stmt = stmt.where(orm.Passage.lot_id == lot_id)
        return [_passage(p) for p in uow.session.scalars(stmt.limit(limit))]


def pending_review_images(uow: UnitOfWork, before: datetime) -> list[str]:
    """``image_ref`` of the passages captured before ``before`` still waiting for an operator:
    their frames are evidence and must outlive the retention period."""
    with uow:
        stmt = select(orm.Passage.image_ref).where(
            orm.Passage.review_status == "pending",
            orm.Passage.captured_at < before,
            orm.Passage.image_ref.is_not(None),
        )
        return [ref for ref in uow.session.scalars(stmt) if ref]


def get_passage(uow: UnitOfWork, passage_id: int) -> PassageView | None:
    with uow:
        p = uow.session.get(orm.Passage, passage_id)
        return _passage(p) if p else None


def review_actions(
    uow: UnitOfWork, passage_id: int | None = None, limit: int = 200
) -> list[ReviewActionView]:
    with uow:
        stmt = select(orm.ReviewAction).order_by(orm.ReviewAction.id.desc())
        if passage_id is not None:
            stmt = stmt.where(orm.ReviewAction.passage_id == passage_id)
        return [
            ReviewActionView(r.id, r.passage_id, r.action, r.actor, r.at, dict(r.details))
            for r in uow.session.scalars(stmt.limit(limit))
        ]


def list_sessions(
    uow: UnitOfWork,
    *,
    lot_id: str | None = None,
    status: str | None = None,
    account_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[SessionView]:
    with uow:
        stmt = select(orm.ParkingSession).order_by(orm.ParkingSession.id.desc())
        if lot_id:
            stmt = stmt.where(orm.ParkingSession.lot_id == lot_id)
        if status:
            stmt = stmt.where(orm.ParkingSession.status == status)
        if account_id is not None:
            stmt = stmt.where(orm.ParkingSession.account_id == account_id)
        return [_session(s) for s in uow.session.scalars(stmt.limit(limit).offset(offset))]


def get_session(uow: UnitOfWork, session_id: int) -> SessionView | None:
    with uow:
        s = uow.session.get(orm.ParkingSession, session_id)
        return _session(s) if s else None


def account_statement(uow: UnitOfWork, account_id: int, limit: int = 100) -> list[StatementLine]:
    """The ledger lines of one prepaid balance, newest first, with the balance after each."""
    with uow:
        rows = uow.session.execute(
            select(
                orm.JournalEntry.id,
                orm.JournalEntry.created_at,
                orm.JournalEntry.kind,
                orm.JournalEntry.description,
                orm.JournalEntry.event_id,
                orm.JournalLine.amount_vnd,
            )
            .join(orm.JournalLine, orm.JournalLine.entry_id == orm.JournalEntry.id)
            .where(orm.JournalLine.ledger_account == prepaid_account(account_id))
            .order_by(orm.JournalEntry.id)
        ).all()
    out: list[StatementLine] = []
    balance = 0
    for entry_id, at, kind, desc, event_id, amount in rows:
        balance -= int(amount)
        out.append(StatementLine(entry_id, at, kind, desc, event_id, -int(amount), balance))
    return list(reversed(out))[:limit]


def revenue(
    uow: UnitOfWork, date_from: date, date_to: date, lot_id: str | None = None
) -> list[RevenueRow]:
    """Charged fares by local exit day, lot and vehicle class (``date_to`` inclusive)."""
    start, _ = local_day_bounds(date_from)
    _, end = local_day_bounds(date_to)
    with uow:
        stmt = select(
            orm.ParkingSession.exit_at,
            orm.ParkingSession.lot_id,
            orm.ParkingSession.vehicle_class,
            orm.ParkingSession.fare_vnd,
        ).where(
            orm.ParkingSession.payment == "charged",
            orm.ParkingSession.exit_at >= start,
            orm.ParkingSession.exit_at < end,
        )
        if lot_id:
            stmt = stmt.where(orm.ParkingSession.lot_id == lot_id)
        rows = uow.session.execute(stmt).all()
    acc: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for exit_at, lot, cls, fare in rows:
        if exit_at is None:
            continue
        k = (exit_at.astimezone(LOCAL).date(), lot, cls or "unknown")
        acc[k][0] += 1
        acc[k][1] += int(fare or 0)
    return [RevenueRow(d, lot, cls, n, total) for (d, lot, cls), (n, total) in sorted(acc.items())]


def occupancy(uow: UnitOfWork, lot_id: str | None = None) -> list[Occupancy]:
    with uow:
        counts = dict(
            uow.session.execute(
                select(orm.ParkingSession.lot_id, func.count())
                .where(orm.ParkingSession.status == "open")
                .group_by(orm.ParkingSession.lot_id)
            ).all()
        )
        stmt = select(orm.Lot).order_by(orm.Lot.id)
        if lot_id:
            stmt = stmt.where(orm.Lot.id == lot_id)
        return [
            Occupancy(lot.id, lot.name, lot.capacity, int(counts.get(lot.id, 0)))
            for lot in uow.session.scalars(stmt)
        ]


def list_lots(uow: UnitOfWork) -> list[LotView]:
    with uow:
        return [
            LotView(
                lot.id,
                lot.name,
                lot.address,
                lot.operator_id,
                lot.tariff_id,
                lot.capacity,
                dict(lot.policy),
            )
            for lot in uow.session.scalars(select(orm.Lot).order_by(orm.Lot.id))
        ]


def list_gates(uow: UnitOfWork, lot_id: str | None = None) -> list[GateView]:
    with uow:
        stmt = select(orm.Gate).order_by(orm.Gate.lot_id, orm.Gate.id)
        if lot_id:
            stmt = stmt.where(orm.Gate.lot_id == lot_id)
        return [
            GateView(g.id, g.lot_id, g.direction, g.name, g.status, g.status_at)
            for g in uow.session.scalars(stmt)
        ]
