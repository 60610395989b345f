"""The operator's page for the lots' plate lists: who is on the blacklist, whitelist and VIP
list of each lot, adding a plate and taking one off (the gates act on the change at once)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway import messages
from gateway.api import billing_port, queries
from gateway.api.lot_lists import list_entry_access, remove_from_list
from gateway.api.schemas import IdPath
from gateway.auth.audit import record
from gateway.deps import SessionDep, UowDep, release
from gateway.web.forms import FormErrors
from gateway.web.i18n import translator
from gateway.web.rendering import lang_of, render
from gateway.web.session import OperatorPage, PageForbidden

router = APIRouter(prefix="/dashboard")

KINDS = ("blacklist", "whitelist", "vip")


def _page(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    lot_id: str = "",
    kind: str = "",
    plate: str = "",
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
) -> HTMLResponse:
    labels = translator(lang_of(request))
    lots = queries.visible_lots(session, user)
    if lot_id and lot_id not in {lot.id for lot in lots}:
        raise PageForbidden()
    scope = [lot_id] if lot_id else [lot.id for lot in lots]
    entries = queries.list_entries(session, scope, kind or None, plate or None)
    return render(
        request,
        "operator/lists.html",
        user,
        status_code=422 if errors else 200,
        nav="lists",
        lots=lots,
        lot_names={lot.id: lot.name for lot in lots},
        lot_options=[(lot.id, lot.name) for lot in lots],
        lot_id=lot_id,
        kind=kind,
        plate=plate,
        kinds=KINDS,
        entries=entries,
        errors=errors or FormErrors(),
        typed=typed or {},
        list_label=lambda k: labels(f"list_{k}"),
    )


@router.get("/lists", response_class=HTMLResponse)
def lists_page(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    lot_id: Annotated[str, Query(max_length=40)] = "",
    kind: Annotated[str, Query(max_length=10)] = "",
    plate: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    kind = kind if kind in KINDS else ""
    return _page(request, session, user, lot_id.strip(), kind, plate.strip())


@router.post("/lists", response_model=None)
def add_to_list(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    uow: UowDep,
    lot_id: Annotated[str, Form(max_length=40)] = "",
    kind: Annotated[str, Form(max_length=10)] = "",
    plate: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    typed = {"lot_id": lot_id, "kind": kind, "plate": plate, "note": note}
    errors = FormErrors()
    lots = {lot.id: lot for lot in queries.visible_lots(session, user)}
    if lot_id not in lots:
        errors.add("lot_id", "lot_required")
    if kind not in KINDS:
        errors.add("kind", "list_kind_invalid")
    if not plate.strip():
        errors.add("plate", "plate_invalid")
    if not errors:
        release(session)
        try:
            entry = billing_port.add_list_entry(uow, lot_id, plate, kind, user.username, note)
        except billing_port.Rejected as exc:
            field = "kind" if exc.code == "list_kind_invalid" else "plate"
            errors.add(field, exc.code if messages.known(exc.code) else messages.REFUSED)
        else:
            details = {"plate": entry.plate_text, "kind": entry.kind}
            record(session, user, "list.add", "lot", lot_id, details)
            query = urlencode({"msg": "list_entry_added", "lot_id": lot_id})
            return RedirectResponse(f"/dashboard/lists?{query}", status_code=303)
    return _page(request, session, user, errors=errors, typed=typed)


@router.post("/lists/{entry_id}/remove", response_model=None)
def remove(entry_id: IdPath, session: SessionDep, user: OperatorPage, uow: UowDep) -> Response:
    try:
        list_entry_access(entry_id, session, user)
        entry = remove_from_list(uow, session, user, entry_id)
    except HTTPException as exc:
        code = messages.code_of(exc)
        return RedirectResponse(f"/dashboard/lists?{urlencode({'err': code})}", status_code=303)
    query = urlencode({"msg": "list_entry_removed", "lot_id": entry.lot_id})
    return RedirectResponse(f"/dashboard/lists?{query}", status_code=303)
