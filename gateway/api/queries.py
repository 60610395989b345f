"""Read-side queries over billing's tables for lists with filters and pages, and the charts.

Writes always go through billing's services; these only read, scoped to what a person may see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from billing.adapters import orm as b
from billing.domain.plates import plate_key
from gateway.auth.principal import Principal
from gateway.web.formatting import LOCAL_TZ

R = TypeVar("R")


@dataclass(frozen=True)
class Window:
    items: Sequence[Any]
    total: int


def page(session: Session, stmt: Select[Any], limit: int, offset: int) -> Window:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = session.scalars(stmt.limit(limit).offset(offset)).all()
    return Window(items, int(total))


# ------------------------------------------------------------------ lots and gates


def visible_lots(session: Session, user: Principal) -> list[b.Lot]:
    stmt = select(b.Lot).order_by(b.Lot.id)
    if not user.is_admin:
        if user.role != "operator":
            return []
        stmt = stmt.where(
            or_(b.Lot.id.in_(user.lot_ids or {""}), b.Lot.operator_id.in_(user.companies or {""}))
        )
    return list(session.scalars(stmt).all())


def all_lots(session: Session) -> list[b.Lot]:
    """Every lot (names for a driver's trips, which may be anywhere)."""
    return list(session.scalars(select(b.Lot).order_by(b.Lot.id)))


def visible_lot_ids(session: Session, user: Principal) -> list[str]:
    return [lot.id for lot in visible_lots(session, user)]


def lot(session: Session, lot_id: str) -> b.Lot | None:
    return session.get(b.Lot, lot_id)


def gates(session: Session, lot_ids: Sequence[str]) -> list[b.Gate]:
    stmt = select(b.Gate).where(b.Gate.lot_id.in_(lot_ids)).order_by(b.Gate.lot_id, b.Gate.id)
    return list(session.scalars(stmt).all())


def operator(session: Session, operator_id: str) -> b.Operator | None:
    return session.get(b.Operator, operator_id)


# ------------------------------------------------------------------ accounts


def account(session: Session, account_id: int) -> b.TransportAccount | None:
    return session.get(b.TransportAccount, account_id)


def accounts(session: Session, q: str | None, limit: int, offset: int) -> Window:
    stmt = select(b.TransportAccount).order_by(b.TransportAccount.id)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            or_(b.TransportAccount.name.ilike(like), b.TransportAccount.tax_code.ilike(like))
        )
    return page(session, stmt, limit, offset)


def vehicles(session: Session, account_id: int) -> list[b.Vehicle]:
    stmt = (
        select(b.Vehicle)
        .where(b.Vehicle.account_id == account_id, b.Vehicle.active.is_(True))
        .order_by(b.Vehicle.id)
    )
    return list(session.scalars(stmt).all())


def topups(session: Session, account_id: int, limit: int, offset: int) -> Window:
    stmt = select(b.TopUp).where(b.TopUp.account_id == account_id).order_by(b.TopUp.id.desc())
    return page(session, stmt, limit, offset)


# ------------------------------------------------------------------ passages and sessions


def plate_search_key(text: str | None) -> str:
    """What a typed plate is compared on: letters and digits only, so ``30a 12345``,
    ``30A-123.45`` and ``123.45`` all find ``30A-123.45`` (a part is enough)."""
    return plate_key(text or "")


def passages(
    session: Session,
    lot_ids: Sequence[str] | None,
    *,
    account_id: int | None = None,
    gate_id: str | None = None,
    direction: str | None = None,
    plate: str | None = None,
    review_status: str | None = None,
    reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Window:
    stmt = select(b.Passage).order_by(b.Passage.id.desc())
    if lot_ids is not None:
        stmt = stmt.where(b.Passage.lot_id.in_(lot_ids))
    if account_id is not None:
        stmt = stmt.where(b.Passage.account_id == account_id)
    if gate_id:
        stmt = stmt.where(b.Passage.gate_id == gate_id)
    if direction:
        stmt = stmt.where(b.Passage.direction == direction)
    key = plate_search_key(plate)
    if key:
        stmt = stmt.where(b.Passage.plate_key.contains(key, autoescape=True))
    if review_status:
        stmt = stmt.where(b.Passage.review_status == review_status)
    if reason:
        stmt = stmt.where(b.Passage.reason == reason)
    if since:
        stmt = stmt.where(b.Passage.captured_at >= since)
    if until:
        stmt = stmt.where(b.Passage.captured_at < until)
    if after_id is not None:
        stmt = stmt.where(b.Passage.id > after_id)
    return page(session, stmt, limit, offset)


def passage(session: Session, passage_id: int) -> b.Passage | None:
    return session.get(b.Passage, passage_id)


def exit_event_ids(session: Session, passage_ids: Sequence[int | None]) -> dict[int, str]:
    """Gate event id of each exit passage: the key an exit's invoice is found by."""
    wanted = [i for i in passage_ids if i]
    if not wanted:
        return {}
    stmt = select(b.Passage.id, b.Passage.event_id).where(b.Passage.id.in_(wanted))
    return {int(pid): str(event_id) for pid, event_id in session.execute(stmt)}


def list_entries(
    session: Session, lot_ids: Sequence[str], kind: str | None = None, plate: str | None = None
) -> list[b.LotListEntry]:
    """Plates on the lots' lists (blacklist, whitelist, VIP), by lot, list and plate."""
    stmt = (
        select(b.LotListEntry)
        .where(b.LotListEntry.lot_id.in_(lot_ids))
        .order_by(b.LotListEntry.lot_id, b.LotListEntry.kind, b.LotListEntry.plate_key)
    )
    if kind:
        stmt = stmt.where(b.LotListEntry.kind == kind)
    key = plate_search_key(plate)
    if key:
        stmt = stmt.where(b.LotListEntry.plate_key.contains(key, autoescape=True))
    return list(session.scalars(stmt).all())


def list_entry(session: Session, entry_id: int) -> b.LotListEntry | None:
    return session.get(b.LotListEntry, entry_id)


def review_actions(session: Session, passage_id: int) -> list[b.ReviewAction]:
    stmt = (
        select(b.ReviewAction)
        .where(b.ReviewAction.passage_id == passage_id)
        .order_by(b.ReviewAction.id)
    )
    return list(session.scalars(stmt).all())


def sessions(
    session: Session,
    lot_ids: Sequence[str] | None,
    *,
    account_id: int | None = None,
    status: str | None = None,
    plate: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Window:
    """Newest first. ``since``/``until``: stays that overlap the interval (a car parked across
    midnight belongs to both days)."""
    stmt = select(b.ParkingSession).order_by(b.ParkingSession.id.desc())
    if lot_ids is not None:
        stmt = stmt.where(b.ParkingSession.lot_id.in_(lot_ids))
    if account_id is not None:
        stmt = stmt.where(b.ParkingSession.account_id == account_id)
    if status:
        stmt = stmt.where(b.ParkingSession.status == status)
    key = plate_search_key(plate)
    if key:
        stmt = stmt.where(b.ParkingSession.plate_key.contains(key, autoescape=True))
    if until:
        stmt = stmt.where(b.ParkingSession.entry_at < until)
    if since:
        stmt = stmt.where(
            or_(b.ParkingSession.exit_at.is_(None), b.ParkingSession.exit_at >= since)
        )
    return page(session, stmt, limit, offset)


def parking_session(session: Session, session_id: int) -> b.ParkingSession | None:
    return session.get(b.ParkingSession, session_id)


# ------------------------------------------------------------------ charts


@dataclass(frozen=True)
class RevenueRow:
    day: date
    lot_id: str
    vehicle_class: str
    sessions: int
    revenue_vnd: int


def revenue(
    session: Session, lot_ids: Sequence[str], day_from: date, day_to: date
) -> list[RevenueRow]:
    """Charged fares by local day (of exit), lot and vehicle class; both days inclusive."""
    start = datetime.combine(day_from, datetime.min.time(), LOCAL_TZ).astimezone(UTC)
    end = datetime.combine(day_to + timedelta(days=1), datetime.min.time(), LOCAL_TZ).astimezone(
        UTC
    )
    stmt = select(
        b.ParkingSession.exit_at,
        b.ParkingSession.lot_id,
        b.ParkingSession.vehicle_class,
        b.ParkingSession.fare_vnd,
    ).where(
        b.ParkingSession.lot_id.in_(lot_ids),
        b.ParkingSession.payment == "charged",
        b.ParkingSession.exit_at >= start,
        b.ParkingSession.exit_at < end,
    )
    acc: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for exit_at, lot_id, vclass, fare in session.execute(stmt):
        if exit_at is None:  # excluded by the filter; keeps the type checker honest
            continue
        key = (exit_at.astimezone(LOCAL_TZ).date(), lot_id, vclass or "unknown")
        acc[key][0] += 1
        acc[key][1] += int(fare or 0)
    return [
        RevenueRow(day, lot_id, vclass, n, total)
        for (day, lot_id, vclass), (n, total) in sorted(acc.items())
    ]


def occupancy_now(session: Session, lot_ids: Sequence[str]) -> dict[str, int]:
    stmt = (
        select(b.ParkingSession.lot_id, func.count())
        .where(b.ParkingSession.lot_id.in_(lot_ids), b.ParkingSession.status == "open")
        .group_by(b.ParkingSession.lot_id)
    )
    found = {lot_id: int(n) for lot_id, n in session.execute(stmt)}
    return {lot_id: found.get(lot_id, 0) for lot_id in lot_ids}


def occupancy_over_day(
    session: Session, lot_ids: Sequence[str], day: date, now: datetime | None = None
) -> dict[str, list[tuple[datetime, int]]]:
    """Vehicles inside each lot at every hour of a local day, up to now (and now itself)."""
    start = datetime.combine(day, datetime.min.time(), LOCAL_TZ)
    end = start + timedelta(days=1)
    now = now or datetime.now(UTC)
    stmt = select(
        b.ParkingSession.lot_id, b.ParkingSession.entry_at, b.ParkingSession.exit_at
    ).where(
        b.ParkingSession.lot_id.in_(lot_ids),
        b.ParkingSession.entry_at < end.astimezone(UTC),
        or_(b.ParkingSession.exit_at.is_(None), b.ParkingSession.exit_at >= start.astimezone(UTC)),
        b.ParkingSession.status != "void",
    )
    stays = list(session.execute(stmt))
    out: dict[str, list[tuple[datetime, int]]] = {lot_id: [] for lot_id in lot_ids}
    instants = [start + timedelta(hours=h) for h in range(25)]
    instants = [t for t in instants if t <= now]
    if start <= now < end:
        instants.append(now)  # the line ends at the present, not at the next full hour
    for t in instants:
        for lot_id in lot_ids:
            n = sum(
                1
                for lid, entry_at, exit_at in stays
                if lid == lot_id and entry_at <= t and (exit_at is None or exit_at > t)
            )
            out[lot_id].append((t, n))
    return out


# ------------------------------------------------------------------ alerts


def alerts(
    session: Session, lot_ids: Sequence[str], *, open_only: bool = True, limit: int = 100
) -> list[Any]:
    """Operator alerts (gateway.alerts) of these lots, newest first; open ones only, or the
    recent ones of any state."""
    from gateway.orm import Alert

    stmt = (
        select(Alert)
        .where(Alert.lot_id.in_(lot_ids))
        .order_by(Alert.opened_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    if open_only:
        stmt = stmt.where(Alert.cleared_at.is_(None))
    return list(session.scalars(stmt).all())


def alert_deliveries(session: Session, alert_ids: Sequence[int]) -> dict[int, list[Any]]:
    from gateway.orm import AlertDelivery

    out: dict[int, list[Any]] = {}
    if not alert_ids:
        return out
    stmt = (
        select(AlertDelivery)
        .where(AlertDelivery.alert_id.in_(alert_ids))
        .order_by(AlertDelivery.id)
    )
    for d in session.scalars(stmt):
        out.setdefault(d.alert_id, []).append(d)
    return out
