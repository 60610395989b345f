"""Revenue and occupancy for the operator's lots, as JSON for charts and CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response
from pydantic import BaseModel

from gateway.api import queries
from gateway.api.access import AccessFirstRoute, LotFilter
from gateway.api.schemas import AUTH_ERRORS, invalid
from gateway.auth.principal import Principal
from gateway.deps import OperatorUser, SessionDep
from gateway.web.formatting import LOCAL_TZ

router = APIRouter(tags=["reports"], responses=AUTH_ERRORS, route_class=AccessFirstRoute)

MAX_DAYS = 366


class RevenueRowOut(BaseModel):
    day: date
    lot_id: str
    vehicle_class: str
    sessions: int
    revenue_vnd: int


class RevenueOut(BaseModel):
    day_from: date
    day_to: date
    total_vnd: int
    rows: list[RevenueRowOut]


class OccupancyPoint(BaseModel):
    at: datetime
    vehicles: int


class LotOccupancyOut(BaseModel):
    lot_id: str
    capacity: int
    now: int
    over_day: list[OccupancyPoint]


def today_local() -> date:
    return datetime.now(UTC).astimezone(LOCAL_TZ).date()


def lot_scope(session: SessionDep, user: Principal, lot_id: str | None) -> list[str]:
    lots = queries.visible_lot_ids(session, user)
    if lot_id is None:
        return lots
    if lot_id not in lots:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"no access to lot {lot_id}")
    return [lot_id]


def date_range(day_from: date | None, day_to: date | None) -> tuple[date, date]:
    day_to = day_to or today_local()
    day_from = day_from or day_to - timedelta(days=13)
    if day_from > day_to:
        raise invalid(("query", "day_from"), "day_from is after day_to")
    if (day_to - day_from).days > MAX_DAYS:
        raise invalid(("query", "day_from"), f"at most {MAX_DAYS} days")
    return day_from, day_to


@router.get("/reports/revenue", response_model=RevenueOut)
def revenue(
    session: SessionDep,
    user: OperatorUser,
    lot_id: LotFilter,
    day_from: date | None = None,
    day_to: date | None = None,
) -> RevenueOut:
    """Charged fares by local day, lot and vehicle class (default: the last 14 days)."""
    lots = lot_scope(session, user, lot_id)
    start, end = date_range(day_from, day_to)
    rows = queries.revenue(session, lots, start, end)
    return RevenueOut(
        day_from=start,
        day_to=end,
        total_vnd=sum(r.revenue_vnd for r in rows),
        rows=[RevenueRowOut(**r.__dict__) for r in rows],
    )


@router.get(
    "/reports/revenue.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def revenue_csv(
    session: SessionDep,
    user: OperatorUser,
    lot_id: LotFilter,
    day_from: date | None = None,
    day_to: date | None = None,
) -> Response:
    report = revenue(session, user, lot_id, day_from, day_to)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["day", "lot_id", "vehicle_class", "sessions", "revenue_vnd"])
    for r in report.rows:
        writer.writerow([r.day.isoformat(), r.lot_id, r.vehicle_class, r.sessions, r.revenue_vnd])
    name = f"revenue_{report.day_from.isoformat()}_{report.day_to.isoformat()}.csv"
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/reports/occupancy", response_model=list[LotOccupancyOut])
def occupancy(
    session: SessionDep,
    user: OperatorUser,
    lot_id: LotFilter,
    day: date | None = None,
) -> list[LotOccupancyOut]:
    """Vehicles inside each lot now, and at every hour of a local day (default today)."""
    lots = lot_scope(session, user, lot_id)
    now = queries.occupancy_now(session, lots)
    series = queries.occupancy_over_day(session, lots, day or today_local())
    capacity = {lot.id: lot.capacity for lot in queries.visible_lots(session, user)}
    return [
        LotOccupancyOut(
            lot_id=lid,
            capacity=capacity.get(lid, 0),
            now=now[lid],
            over_day=[OccupancyPoint(at=t, vehicles=n) for t, n in series[lid]],
        )
        for lid in lots
    ]
