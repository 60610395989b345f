"""Passages: what the gates saw and decided (parking sessions are in ``gateway.api.sessions``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import FileResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict

from gateway.api import queries
from gateway.api.access import AccessFirstRoute, LotFilter, PassageId
from gateway.api.csv_export import CsvLimit, csv_response, local_cell, local_column
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
from gateway.images import MAX_FRAMES, THUMB_WIDTH, frame_paths, plate_zoom, thumbnail

log = logging.getLogger(__name__)
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


def passage_out(row: Any) -> PassageOut:
    out = PassageOut.model_validate(row)
    out.has_image = bool(row.image_ref)
    return out


def scope(
    session: SessionDep, user: Principal, lot_id: str | None
) -> tuple[list[str] | None, int | None]:
    """(lots, account) a listing is limited to: an operator's lots, a driver's own account.

    The API's ``LotFilter`` checked ``lot_id`` before anything else; checked again here for the
    pages that list through this too."""
    if user.role == "driver":
        if user.account_id is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "no account linked to this user")
        return ([lot_id] if lot_id else None), int(user.account_id)
    lots = queries.visible_lot_ids(session, user)
    if lot_id is not None:
        if lot_id not in lots:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"no access to lot {lot_id}")
        lots = [lot_id]
    return lots, None


@dataclass(frozen=True)
class PassageFilters:
    """The filters of the passage list, its CSV and the operator's search page."""

    lot_id: str | None = None
    gate_id: str | None = None
    direction: str | None = None
    plate: str | None = None
    review_status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def passage_filters(
    lot_id: LotFilter,
    gate_id: Annotated[str | None, Query(max_length=40)] = None,
    direction: Literal["entry", "exit"] | None = None,
    plate: Annotated[
        str | None, Query(max_length=20, description="any part of the plate, e.g. 12345")
    ] = None,
    review_status: Literal["pending", "resolved"] | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> PassageFilters:
    return PassageFilters(lot_id, gate_id, direction, plate, review_status, since, until)


PassageFiltersDep = Annotated[PassageFilters, Depends(passage_filters)]


def find_passages(
    session: SessionDep,
    user: Principal,
    f: PassageFilters,
    *,
    limit: int,
    offset: int = 0,
    after_id: int | None = None,
) -> queries.Window:
    lots, account_id = scope(session, user, f.lot_id)
    return queries.passages(
        session,
        lots,
        account_id=account_id,
        gate_id=f.gate_id,
        direction=f.direction,
        plate=f.plate,
        review_status=f.review_status,
        since=f.since,
        until=f.until,
        after_id=after_id,
        limit=limit,
        offset=offset,
    )


@router.get("/passages", response_model=Page[PassageOut])
def list_passages(
    session: SessionDep,
    user: CurrentUser,
    paging: PagingDep,
    filters: PassageFiltersDep,
    after_id: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="only newer than this id")
    ] = None,
) -> Page[PassageOut]:
    """Newest first. Operators see their lots; drivers their own account's passages."""
    window = find_passages(
        session, user, filters, limit=paging.limit, offset=paging.offset, after_id=after_id
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
    local_column("captured_at"),
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
    filters: PassageFiltersDep,
    limit: CsvLimit = 10_000,
) -> Response:
    """The same rows as ``/passages`` (newest first) for a spreadsheet, in local time."""
    window = find_passages(session, user, filters, limit=limit)
    rows = (
        (
            p.id,
            local_cell(p.captured_at),
            p.lot_id,
            p.gate_id,
            p.direction,
            p.plate_read,
            p.plate_text,
            p.plate_confidence,
            p.opened,
            p.reason,
            p.fare_vnd,
            p.review_status,
        )
        for p in window.items
    )
    return csv_response("passages.csv", CSV_COLUMNS, rows)


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
    size: Annotated[
        Literal["full", "thumb"], Query(description=f"thumb: {THUMB_WIDTH} px wide, for lists")
    ] = "full",
) -> Response:
    """A camera frame of the passage (JPEG); the gate sends 1-5 per passage."""
    row = load_passage(session, passage_id)
    paths = frame_paths(settings.data_dir, row.image_ref) if row.image_ref else []
    if frame >= len(paths):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such stored frame for this passage")
    private = {"Cache-Control": "private, max-age=86400"}  # a stored frame never changes
    if size == "thumb":
        try:
            return Response(thumbnail(paths[frame]), media_type="image/jpeg", headers=private)
        except (OSError, ValueError) as exc:  # not a picture Pillow can read
            log.warning("no thumbnail of %s: %s", paths[frame], exc)
            raise HTTPException(status.HTTP_404_NOT_FOUND, "frame unreadable") from None
    return FileResponse(paths[frame], media_type="image/jpeg", headers=private)


@router.get(
    "/passages/{passage_id}/plate",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}},
        **as_json_errors({**AUTH_ERRORS, **not_found("no passage, or no plate found on it")}),
    },
)
def passage_plate(passage_id: PassageId, session: SessionDep, settings: SettingsDep) -> Response:
    """The plate enlarged (JPEG, 360 px wide): the camera's crop, or the reader's box cut out of
    its frame; 404 when the reader found no plate."""
    row = load_passage(session, passage_id)
    try:
        jpeg = plate_zoom(settings.data_dir, row.image_ref) if row.image_ref else None
    except (OSError, ValueError) as exc:
        log.warning("no plate zoom for passage %s: %s", passage_id, exc)
        jpeg = None
    if jpeg is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no plate found on this passage")
    return Response(
        jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )
