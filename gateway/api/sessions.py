"""Parking sessions: a car's stay from entry to exit, its fare and how it was paid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict

from gateway.api import queries
from gateway.api.csv_export import CsvLimit, csv_response, local_cell, local_column
from gateway.api.passages import can_see, scope
from gateway.api.schemas import AUTH_ERRORS, IdPath, Page, PagingDep, not_found
from gateway.auth.principal import Principal
from gateway.deps import CurrentUser, SessionDep

router = APIRouter(tags=["sessions"], responses=AUTH_ERRORS)


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    lot_id: str
    plate_text: str
    account_id: int | None
    vehicle_class: str | None
    status: str
    entry_at: datetime
    exit_at: datetime | None
    fare_vnd: int | None
    fare_lines: list[dict[str, Any]] | None
    tariff_version: str | None
    payment: str | None


@dataclass(frozen=True)
class SessionFilters:
    lot_id: str | None = None
    status: str | None = None
    plate: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def session_filters(
    lot_id: Annotated[str | None, Query(max_length=40)] = None,
    status_: Annotated[Literal["open", "closed", "void"] | None, Query(alias="status")] = None,
    plate: Annotated[
        str | None, Query(max_length=20, description="any part of the plate, e.g. 12345")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="stays not over before")] = None,
    until: Annotated[AwareDatetime | None, Query(description="stays begun before")] = None,
) -> SessionFilters:
    return SessionFilters(lot_id, status_, plate, since, until)


SessionFiltersDep = Annotated[SessionFilters, Depends(session_filters)]


def find_sessions(
    session: SessionDep, user: Principal, f: SessionFilters, *, limit: int, offset: int = 0
) -> queries.Window:
    lots, account_id = scope(session, user, f.lot_id)
    return queries.sessions(
        session,
        lots,
        account_id=account_id,
        status=f.status,
        plate=f.plate,
        since=f.since,
        until=f.until,
        limit=limit,
        offset=offset,
    )


@router.get("/sessions", response_model=Page[SessionOut])
def list_sessions(
    session: SessionDep, user: CurrentUser, paging: PagingDep, filters: SessionFiltersDep
) -> Page[SessionOut]:
    """Newest first; ``since``/``until`` keep the stays that overlap the interval."""
    window = find_sessions(session, user, filters, limit=paging.limit, offset=paging.offset)
    return Page(
        items=[SessionOut.model_validate(s) for s in window.items],
        total=window.total,
        limit=paging.limit,
        offset=paging.offset,
    )


CSV_COLUMNS = (
    "id",
    "lot_id",
    "plate_text",
    "vehicle_class",
    "status",
    local_column("entry_at"),
    local_column("exit_at"),
    "fare_vnd",
    "payment",
    "tariff_version",
)


@router.get(
    "/sessions.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}}
)
def sessions_csv(
    session: SessionDep,
    user: CurrentUser,
    filters: SessionFiltersDep,
    limit: CsvLimit = 10_000,
) -> Response:
    """The same rows as ``/sessions`` (newest first) for a spreadsheet, in local time."""
    window = find_sessions(session, user, filters, limit=limit)
    rows = (
        (
            s.id,
            s.lot_id,
            s.plate_text,
            s.vehicle_class,
            s.status,
            local_cell(s.entry_at),
            local_cell(s.exit_at),
            s.fare_vnd,
            s.payment,
            s.tariff_version,
        )
        for s in window.items
    )
    return csv_response("sessions.csv", CSV_COLUMNS, rows)


@router.get(
    "/sessions/{session_id}",
    response_model=SessionOut,
    responses=not_found("no such parking session"),
)
def get_session(session_id: IdPath, session: SessionDep, user: CurrentUser) -> SessionOut:
    row = queries.parking_session(session, session_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session {session_id}")
    if not can_see(user, session, row.lot_id, row.account_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"no access to session {session_id}")
    return SessionOut.model_validate(row)
