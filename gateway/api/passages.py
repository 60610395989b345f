"""Passages (what the gates saw and decided) and parking sessions (entry to exit, fare)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict

from gateway.api import queries
from gateway.api.access import AccessFirstRoute, LotFilter, PassageId, SessionId
from gateway.api.schemas import (
    AUTH_ERRORS,
    MAX_ID,
    Page,
    PagingDep,
    as_json_errors,
    not_found,
)
from gateway.auth.principal import Principal
from gateway.deps import CurrentUser, SessionDep, SettingsDep
from gateway.images import MAX_FRAMES, frame_paths

router = APIRouter(tags=["passages"], responses=AUTH_ERRORS, route_class=AccessFirstRoute)


class PassageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: str
    lot_id: str
    gate_id: str
    direction: str
    captured_at: datetime
    plate_read: str | None
    plate_text: str | None
    plate_confidence: float
    needs_review: bool
    has_image: bool = False
    account_id: int | None
    session_id: int | None
    opened: bool
    reason: str
    fare_vnd: int | None
    review_status: str | None


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


def passage_out(row: Any) -> PassageOut:
    out = PassageOut.model_validate(row)
    out.has_image = bool(row.image_ref)
    return out


def scope(
    session: SessionDep, user: Principal, lot_id: str | None
) -> tuple[list[str] | None, int | None]:
    """(lots, account) a listing is limited to: an operator's lots, a driver's own account.

    ``lot_id`` comes from ``LotFilter``, which checked it against the user already."""
    if user.role == "driver":
        if user.account_id is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "no account linked to this user")
        return ([lot_id] if lot_id else None), int(user.account_id)
    return ([lot_id] if lot_id else queries.visible_lot_ids(session, user)), None


@router.get("/passages", response_model=Page[PassageOut])
def list_passages(
    session: SessionDep,
    user: CurrentUser,
    paging: PagingDep,
    lot_id: LotFilter,
    gate_id: Annotated[str | None, Query(max_length=40)] = None,
    direction: Literal["entry", "exit"] | None = None,
    plate: Annotated[str | None, Query(max_length=20)] = None,
    review_status: Literal["pending", "resolved"] | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    after_id: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="only newer than this id")
    ] = None,
) -> Page[PassageOut]:
    """Newest first. Operators see their lots; drivers their own account's passages."""
    lots, account_id = scope(session, user, lot_id)
    window = queries.passages(
        session,
        lots,
        account_id=account_id,
        gate_id=gate_id,
        direction=direction,
        plate=plate,
        review_status=review_status,
        since=since,
        until=until,
        after_id=after_id,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Page(
        items=[passage_out(p) for p in window.items],
        total=window.total,
        limit=paging.limit,
        offset=paging.offset,
    )


def load_passage(session: SessionDep, passage_id: int) -> Any:
    """The passage (access was checked by ``PassageId``)."""
    row = queries.passage(session, passage_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no passage {passage_id}")
    return row


CSV_COLUMNS = (
    "id",
    "captured_at",
    "lot_id",
    "gate_id",
    "direction",
    "plate_read",
    "plate_text",
    "plate_confidence",
    "opened",
    "reason",
    "fare_vnd",
    "review_status",
)


@router.get(
    "/passages.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}}
)
def passages_csv(
    session: SessionDep,
    user: CurrentUser,
    lot_id: LotFilter,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
) -> Response:
    """The same rows as ``/passages`` (newest first) for a spreadsheet."""
    lots, account_id = scope(session, user, lot_id)
    window = queries.passages(
        session, lots, account_id=account_id, since=since, until=until, limit=limit
    )
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for p in window.items:
        row = passage_out(p).model_dump()
        row["captured_at"] = p.captured_at.isoformat()
        writer.writerow([row[c] for c in CSV_COLUMNS])
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="passages.csv"'},
    )


@router.get(
    "/passages/{passage_id}", response_model=PassageOut, responses=not_found("no such passage")
)
def get_passage(passage_id: PassageId, session: SessionDep) -> PassageOut:
    return passage_out(load_passage(session, passage_id))


@router.get(
    "/passages/{passage_id}/image",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}}},
        **as_json_errors({**AUTH_ERRORS, **not_found("no passage, or no such stored frame")}),
    },
)
def passage_image(
    passage_id: PassageId,
    session: SessionDep,
    settings: SettingsDep,
    frame: Annotated[int, Query(ge=0, lt=MAX_FRAMES, description="0 = the first frame")] = 0,
) -> FileResponse:
    """A camera frame of the passage (JPEG); the gate sends 1-5 per passage."""
    row = load_passage(session, passage_id)
    paths = frame_paths(settings.data_dir, row.image_ref) if row.image_ref else []
    if frame >= len(paths):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such stored frame for this passage")
    return FileResponse(paths[frame], media_type="image/jpeg")


@router.get("/sessions", response_model=Page[SessionOut], tags=["sessions"])
def list_sessions(
    session: SessionDep,
    user: CurrentUser,
    paging: PagingDep,
    lot_id: LotFilter,
    status_: Annotated[Literal["open", "closed", "void"] | None, Query(alias="status")] = None,
    plate: Annotated[str | None, Query(max_length=20)] = None,
) -> Page[SessionOut]:
    lots, account_id = scope(session, user, lot_id)
    window = queries.sessions(
        session,
        lots,
        account_id=account_id,
        status=status_,
        plate=plate,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Page(
        items=[SessionOut.model_validate(s) for s in window.items],
        total=window.total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get(
    "/sessions/{session_id}",
    response_model=SessionOut,
    tags=["sessions"],
    responses=not_found("no such parking session"),
)
def get_session(session_id: SessionId, session: SessionDep) -> SessionOut:
    row = queries.parking_session(session, session_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session {session_id}")
    return SessionOut.model_validate(row)
