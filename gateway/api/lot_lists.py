"""A lot's plate lists (blacklist, whitelist, VIP) over the API: read, add, remove.

The lists are billing's data and its gates act on them at once (docs/lot-lists.md); an
operator manages the lists of the lots granted to them, and every change is in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from gateway.api import billing_port, queries
from gateway.api.access import AccessFirstRoute, LotId
from gateway.api.schemas import AUTH_ERRORS, CodedHTTPException, IdPath, conflict, not_found
from gateway.auth.audit import record
from gateway.auth.principal import Principal
from gateway.deps import OperatorUser, SessionDep, UowDep, access_check, ensure_lot, release

router = APIRouter(tags=["lots"], responses=AUTH_ERRORS, route_class=AccessFirstRoute)

ListKindName = Literal["blacklist", "whitelist", "vip"]


class ListEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    lot_id: str
    kind: str
    plate_text: str
    note: str
    added_by: str
    added_at: datetime


class ListEntryIn(BaseModel):
    plate: str = Field(min_length=4, max_length=20, examples=["30A-123.45"])
    kind: ListKindName
    note: str = Field(default="", max_length=200)


@router.get("/lots/{lot_id}/lists", response_model=list[ListEntryOut], responses=not_found("lot"))
def lot_lists(
    lot_id: LotId,
    session: SessionDep,
    kind: Annotated[ListKindName | None, Query()] = None,
) -> list[ListEntryOut]:
    """The lot's listed plates, by list then plate."""
    return [ListEntryOut.model_validate(e) for e in queries.list_entries(session, [lot_id], kind)]


def _refused(exc: billing_port.Rejected) -> CodedHTTPException:
    code = exc.code
    if code == "not_found":
        return CodedHTTPException(status.HTTP_404_NOT_FOUND, code)
    if code == "list_entry_exists":
        return CodedHTTPException(status.HTTP_409_CONFLICT, code)
    return CodedHTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, code)


@router.post(
    "/lots/{lot_id}/lists",
    response_model=ListEntryOut,
    status_code=status.HTTP_201_CREATED,
    responses={**not_found("lot"), **conflict("the plate is on one of this lot's lists")},
)
def add_to_list(
    lot_id: LotId, body: ListEntryIn, user: OperatorUser, session: SessionDep, uow: UowDep
) -> ListEntryOut:
    """Put a plate on the lot's blacklist, whitelist or VIP list; the gates act on it at once."""
    try:
        entry = billing_port.add_list_entry(
            uow, lot_id, body.plate, body.kind, user.username, body.note
        )
    except billing_port.Rejected as exc:
        raise _refused(exc) from exc
    details = {"plate": entry.plate_text, "kind": entry.kind}
    record(session, user, "list.add", "lot", lot_id, details)
    return ListEntryOut.model_validate(entry)


@access_check
def list_entry_access(entry_id: IdPath, session: SessionDep, user: OperatorUser) -> int:
    """A list entry of one of the operator's lots (404 when there is none)."""
    row = queries.list_entry(session, entry_id)
    if row is None:
        raise CodedHTTPException(status.HTTP_404_NOT_FOUND, "not_found")
    lot = queries.lot(session, row.lot_id)
    try:
        ensure_lot(user, row.lot_id, lot.operator_id if lot else "")
    except HTTPException:
        raise CodedHTTPException(status.HTTP_403_FORBIDDEN, "no_access") from None
    release(session)
    return entry_id


ListEntryId = Annotated[int, Depends(list_entry_access)]


def remove_from_list(
    uow: UowDep, session: SessionDep, user: Principal, entry_id: int
) -> ListEntryOut:
    """Take an entry off its list (the caller checked the entry is the operator's)."""
    try:
        entry = billing_port.remove_list_entry(uow, entry_id)
    except billing_port.Rejected as exc:
        raise _refused(exc) from exc
    details = {"plate": entry.plate_text, "kind": entry.kind}
    record(session, user, "list.remove", "lot", entry.lot_id, details)
    return ListEntryOut.model_validate(entry)


@router.delete("/lot-lists/{entry_id}", response_model=ListEntryOut, responses=not_found("entry"))
def delete_list_entry(
    entry_id: ListEntryId, user: OperatorUser, session: SessionDep, uow: UowDep
) -> ListEntryOut:
    """Take a plate off its list; answers with the entry removed."""
    return remove_from_list(uow, session, user, entry_id)
