"""The review queue: passages the machine could not settle, and what an operator does about them.

Every action goes through billing (which keeps its own audit rows) and is also written to the
gateway's audit log with the operator's name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from gateway.api import billing_port, queries
from gateway.api.access import AccessFirstRoute, LotFilter, ReviewPassageId, check_passage
from gateway.api.passages import PassageOut, load_passage, passage_out
from gateway.api.schemas import (
    AUTH_ERRORS,
    CodedHTTPException,
    Page,
    PagingDep,
    conflict,
    not_found,
)
from gateway.auth.audit import record
from gateway.auth.principal import Principal
from gateway.deps import OperatorUser, SessionDep, UowDep, release

router = APIRouter(tags=["review"], responses=AUTH_ERRORS, route_class=AccessFirstRoute)
NO_PASSAGE = not_found("no such passage")


class ReviewActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    passage_id: int
    action: str
    actor: str
    at: datetime
    details: dict[str, Any]


class ReviewItemOut(BaseModel):
    passage: PassageOut
    actions: list[ReviewActionOut]


class CorrectPlateIn(BaseModel):
    plate: str = Field(min_length=4, max_length=20, examples=["30A-123.45"])


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=300)


class ChargeIn(BaseModel):
    """Leave ``amount_vnd`` out to charge the fare the tariff gives."""

    amount_vnd: int | None = Field(default=None, gt=0, le=10_000_000, strict=True)
    note: str = Field(default="", max_length=300)


class ActionResultOut(BaseModel):
    passage: PassageOut
    actions: list[ReviewActionOut]
    result: dict[str, Any]


@router.get("/review", response_model=Page[PassageOut])
def review_queue(
    session: SessionDep,
    user: OperatorUser,
    paging: PagingDep,
    lot_id: LotFilter,
    state: Annotated[str, Query(pattern="^(pending|resolved)$")] = "pending",
) -> Page[PassageOut]:
    lots = [lot_id] if lot_id else queries.visible_lot_ids(session, user)
    window = queries.passages(
        session, lots, review_status=state, limit=paging.limit, offset=paging.offset
    )
    return Page(
        items=[passage_out(p) for p in window.items],
        total=window.total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/review/{passage_id}", response_model=ReviewItemOut, responses=NO_PASSAGE)
def review_item(passage_id: ReviewPassageId, session: SessionDep) -> ReviewItemOut:
    row = load_passage(session, passage_id)
    return ReviewItemOut(
        passage=passage_out(row),
        actions=[
            ReviewActionOut.model_validate(a) for a in queries.review_actions(session, row.id)
        ],
    )


def act(
    session: SessionDep,
    uow: Any,
    user: Principal,
    passage_id: int,
    action: str,
    **kwargs: Any,
) -> ActionResultOut:
    check_passage(session, user, passage_id)  # again: the dashboard's forms act through here too
    release(session)
    try:
        result = billing_port.review_action(uow, passage_id, action, user.username, **kwargs)
    except billing_port.NotFound as exc:
        raise CodedHTTPException(status.HTTP_404_NOT_FOUND, exc.code) from exc
    except billing_port.Rejected as exc:
        raise CodedHTTPException(status.HTTP_409_CONFLICT, exc.code) from exc
    record(session, user, f"review.{action}", "passage", passage_id, kwargs)
    session.expire_all()
    row = load_passage(session, passage_id)
    return ActionResultOut(
        passage=passage_out(row),
        actions=[
            ReviewActionOut.model_validate(a) for a in queries.review_actions(session, row.id)
        ],
        result=_as_dict(result),
    )


def _as_dict(result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    if isinstance(result, dict):
        return result
    from dataclasses import asdict, is_dataclass

    if is_dataclass(result) and not isinstance(result, type):
        return {k: v for k, v in asdict(result).items() if isinstance(v, str | int | bool | None)}
    return {"value": str(result)}


@router.post(
    "/review/{passage_id}/correct",
    response_model=ActionResultOut,
    responses={**NO_PASSAGE, **conflict("not pending, or the plate is not valid")},
)
def correct_plate(
    passage_id: ReviewPassageId,
    user: OperatorUser,
    body: CorrectPlateIn,
    session: SessionDep,
    uow: UowDep,
) -> ActionResultOut:
    """Set the plate the machine misread; billing then settles the passage (charge posts once)."""
    return act(session, uow, user, passage_id, "correct_plate", plate=body.plate)


@router.post(
    "/review/{passage_id}/charge",
    response_model=ActionResultOut,
    responses={**NO_PASSAGE, **conflict("not pending (already charged or waived), or no plate")},
)
def charge(
    passage_id: ReviewPassageId,
    session: SessionDep,
    user: OperatorUser,
    uow: UowDep,
    body: ChargeIn | None = None,
) -> ActionResultOut:
    """Debit the reviewed exit once; a second charge of the same passage is refused (409)."""
    body = body or ChargeIn()
    return act(session, uow, user, passage_id, "charge", amount_vnd=body.amount_vnd, note=body.note)


class ConfirmMatchIn(BaseModel):
    """One of the exit's top matches (``GET /passages/{id}/evidence``), by plate."""

    plate: str = Field(min_length=4, max_length=20, examples=["30A-123.45"])


@router.post(
    "/review/{passage_id}/confirm",
    response_model=ActionResultOut,
    responses={**NO_PASSAGE, **conflict("not one of the matches, or the case is settled")},
)
def confirm_match(
    passage_id: ReviewPassageId,
    user: OperatorUser,
    body: ConfirmMatchIn,
    session: SessionDep,
    uow: UowDep,
) -> ActionResultOut:
    """Confirm one of the top matches: the stay is settled under that plate and charged once
    (sending it again returns the same charge)."""
    return act(session, uow, user, passage_id, "confirm_match", plate=body.plate)


@router.post(
    "/review/{passage_id}/waive",
    response_model=ActionResultOut,
    responses={**NO_PASSAGE, **conflict("not pending")},
)
def waive(
    passage_id: ReviewPassageId,
    user: OperatorUser,
    body: ReasonIn,
    session: SessionDep,
    uow: UowDep,
) -> ActionResultOut:
    return act(session, uow, user, passage_id, "waive", reason=body.reason)
