"""The operator dashboard: revenue, occupancy, live passages, gates, review queue, invoices."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway import messages
from gateway.api import queries
from gateway.api.access import check_passage
from gateway.api.evidence import evidence_view
from gateway.api.invoices import rejection_reasons, visible_invoices
from gateway.api.lots import tariff_versions
from gateway.api.reports import date_range, today_local
from gateway.api.review import act
from gateway.api.schemas import IdPath
from gateway.auth.principal import Principal
from gateway.deps import SessionDep, SettingsDep, UowDep
from gateway.images import frame_paths
from gateway.web import charts, review_items
from gateway.web.forms import FormErrors, parse_vnd
from gateway.web.rendering import Flash, lang_of, render
from gateway.web.search import PAGE_SIZE, Pager, SearchDep
from gateway.web.session import OperatorPage, PageForbidden

router = APIRouter(prefix="/dashboard")


def _lot_names(lots: list[Any]) -> dict[str, str]:
    return {lot.id: lot.name for lot in lots}


def _unanswered(request: Request, gates: list[Any]) -> dict[str, dict[str, Any]]:
    """Gate id -> what the gate last reported of events waiting for their decision (from the
    consumer running in this process, when there is one)."""
    container = getattr(request.app.state, "container", None)
    health = getattr(getattr(container, "metrics", None), "gate_health", None)
    if health is None:
        return {}
    now = health.now()
    found: dict[str, dict[str, Any]] = {}
    for g in gates:
        report = health.report(g.lot_id, g.id)
        if report is None or (report.unanswered is None and not report.deciding_offline):
            continue
        waited = report.waited_s(now)
        found[g.id] = {
            "events": report.unanswered or 0,
            "waited_s": None if waited is None else round(waited),
            "overdue": waited is not None and waited >= health.alert_after_s,
            # the lot's edge decides alone: the center has not answered it in time
            "offline": report.deciding_offline,
            "offline_pending": report.offline_pending or 0,
        }
    return found


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    lot_id: Annotated[str | None, Query(max_length=40)] = None,
    day_from: date | None = None,
    day_to: date | None = None,
) -> HTMLResponse:
    lang = lang_of(request)
    en = lang == "en"
    all_lots = queries.visible_lots(session, user)
    lots = [lot for lot in all_lots if lot_id in (None, "", lot.id)]
    if lot_id and not lots:
        raise PageForbidden()
    lot_ids = [lot.id for lot in lots]
    names = _lot_names(lots)
    today = today_local()
    start, end = date_range(day_from, day_to)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    rows = queries.revenue(session, lot_ids, start, end)
    now = queries.occupancy_now(session, lot_ids)
    capacity = {lot.id: lot.capacity for lot in lots}
    series = queries.occupancy_over_day(session, lot_ids, today)
    figures = {
        "revenue-day": charts.revenue_by_day(
            rows, days, names, "Revenue by day (₫)" if en else "Doanh thu theo ngày (₫)"
        ),
        "revenue-lot": charts.revenue_by(
            rows, lambda r: names.get(r.lot_id, r.lot_id), "By lot" if en else "Theo bãi"
        ),
        "revenue-class": charts.revenue_by(
            rows,
            lambda r: charts.CLASS_LABELS.get(r.vehicle_class, (r.vehicle_class,) * 2)[int(en)],
            "By vehicle class" if en else "Theo loại xe",
        ),
        "occupancy-day": charts.occupancy_day(
            series, names, "Vehicles inside, today" if en else "Số xe trong bãi hôm nay"
        ),
        "occupancy-now": charts.occupancy_now(
            now, capacity, names, "Occupancy now" if en else "Công suất hiện tại"
        ),
    }
    today_rows = queries.revenue(session, lot_ids, today, today)
    gates = queries.gates(session, lot_ids)
    pending = queries.passages(session, lot_ids, review_status="pending", limit=1).total
    recent = queries.passages(session, lot_ids, limit=10).items
    return render(
        request,
        "operator/dashboard.html",
        user,
        nav="dashboard",
        lots=all_lots,
        lot_id=lot_id or "",
        gates=gates,
        unanswered=_unanswered(request, gates),
        figures_json=json.dumps(figures),
        revenue_today=sum(r.revenue_vnd for r in today_rows),
        exits_today=sum(r.sessions for r in today_rows),
        occupied=sum(now.values()),
        capacity=sum(capacity.values()),
        pending=pending,
        offline=sum(1 for g in gates if g.status != "online"),
        day_from=start,
        day_to=end,
        today=today,
        recent=recent,
        last_id=max((p.id for p in recent), default=0),
        alerts=queries.alerts(session, lot_ids),
    )


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, session: SessionDep, user: OperatorPage) -> HTMLResponse:
    """Open alerts, and the recent ones with how each was delivered (email, webhook)."""
    lot_ids = queries.visible_lot_ids(session, user)
    recent = queries.alerts(session, lot_ids, open_only=False)
    return render(
        request,
        "operator/alerts.html",
        user,
        nav="alerts",
        alerts=[a for a in recent if a.cleared_at is None],
        recent=recent,
        deliveries=queries.alert_deliveries(session, [a.id for a in recent]),
    )


def lot_scope(
    session: SessionDep, user: Principal, lot_id: str | None
) -> tuple[list[Any], list[str]]:
    """(the lots this person may see, the ids a page is limited to: one lot or all of them)."""
    lots = queries.visible_lots(session, user)
    if lot_id and lot_id not in {lot.id for lot in lots}:
        raise PageForbidden()
    return lots, [lot_id] if lot_id else [lot.id for lot in lots]


@router.get("/passages", response_class=HTMLResponse)
def passages_page(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    search: SearchDep,
    direction: Annotated[str, Query(max_length=5)] = "",
) -> HTMLResponse:
    """Live passages; with a plate, days or a direction, a search through all of them."""
    lots, scope = lot_scope(session, user, search.lot_id)
    direction = direction if direction in ("entry", "exit") else ""
    window = queries.passages(
        session,
        scope,
        plate=search.plate or None,
        direction=direction or None,
        since=search.since,
        until=search.until,
        limit=PAGE_SIZE,
        offset=search.offset,
    )
    live = not (search.narrowed or direction) and search.page == 1
    return render(
        request,
        "operator/passages.html",
        user,
        nav="passages",
        lots=lots,
        search=search,
        direction=direction,
        pager=Pager.of(search, window.total),
        passages=window.items,
        live=live,
        extra={"direction": direction} if direction else {},
        lot_id=search.lot_id,
        last_id=max((p.id for p in window.items), default=0),
        csv_url=search.api_link("/api/v1/passages.csv", direction=direction),
    )


@router.get("/sessions", response_class=HTMLResponse)
def sessions_page(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    search: SearchDep,
    status: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """Parking sessions (entry to exit) by lot, plate and the days they overlap."""
    from einvoice import queries as inv

    lots, scope = lot_scope(session, user, search.lot_id)
    status = status if status in ("open", "closed", "void") else ""
    window = queries.sessions(
        session,
        scope,
        status=status or None,
        plate=search.plate or None,
        since=search.since,
        until=search.until,
        limit=PAGE_SIZE,
        offset=search.offset,
    )
    exits = queries.exit_event_ids(session, [s.exit_passage_id for s in window.items])
    invoice_of = inv.invoice_ids_by_event(session, list(exits.values()))
    return render(
        request,
        "operator/sessions.html",
        user,
        nav="sessions",
        lots=lots,
        search=search,
        status=status,
        pager=Pager.of(search, window.total),
        sessions=window.items,
        invoice_ids={
            s.id: invoice_of.get(exits.get(s.exit_passage_id or 0, "")) for s in window.items
        },
        lot_names=_lot_names(lots),
        csv_url=search.api_link("/api/v1/sessions.csv", status=status),
    )


@router.get("/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
    uow: UowDep,
    search: SearchDep,
    reason: Annotated[str, Query(max_length=30)] = "",
) -> HTMLResponse:
    """The queue: filters (lot, reason, plate, days), pages of a few items, thumbnails."""
    lots, scope = lot_scope(session, user, search.lot_id)
    reason = reason if reason in review_items.REVIEW_REASONS else ""
    size = review_items.REVIEW_PAGE_SIZE
    window = queries.passages(
        session,
        scope,
        review_status="pending",
        reason=reason or None,
        plate=search.plate or None,
        since=search.since,
        until=search.until,
        limit=size,
        offset=(search.page - 1) * size,
    )
    resolved = queries.passages(session, scope, review_status="resolved", limit=10).items
    trails = {p.id: queries.review_actions(session, p.id) for p in resolved}
    items = review_items.build(session, uow, settings.data_dir, window.items)
    return render(
        request,
        "operator/review.html",
        user,
        nav="review",
        lots=lots,
        search=search,
        reason=reason,
        reasons_offered=review_items.REVIEW_REASONS,
        items=items,
        pager=Pager(search.page, max(1, -(-window.total // size)), window.total),
        extra={"reason": reason} if reason else {},
        resolved=resolved,
        trails=trails,
        errors={},
    )


@router.get("/review/{passage_id}", response_class=HTMLResponse)
def review_item_page(
    passage_id: IdPath,
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
    uow: UowDep,
) -> HTMLResponse:
    """One item, pending or settled: its frames, plate, fare, actions; once acted on, its new
    state and the invoice it made."""
    return _review_item(request, session, user, settings, uow, passage_id)


def _review_item(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
    uow: UowDep,
    passage_id: int,
    failed: tuple[str, str] | None = None,
) -> HTMLResponse:
    """``failed`` = (field, catalogue code) of an action just refused: shown next to the field."""
    try:
        check_passage(session, user, passage_id)
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        raise PageForbidden() from None
    row = queries.passage(session, passage_id)
    assert row is not None
    (item,) = review_items.build(session, uow, settings.data_dir, [row], with_invoice=True)
    errors: dict[int, FormErrors] = {}
    extra: dict[str, Any] = {}
    if failed is not None and row.review_status == "pending":
        errors[passage_id] = FormErrors()
        errors[passage_id].add(*failed)
    elif failed is not None:  # no form left to show it beside: the banner says it
        extra["flash"] = Flash("error", failed[1])
    return render(
        request,
        "operator/review_item.html",
        user,
        status_code=200 if failed is None else 422,
        nav="review",
        item=item,
        errors=errors,
        **extra,
    )


# What an operator is told after each action (catalogue codes).
DONE_CODES = {
    "correct_plate": "review_corrected",
    "charge": "review_charged",
    "waive": "review_waived",
    "confirm_match": "review_charged",
}


def _after_action(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
    uow: UowDep,
    target: tuple[int, str],
    action: str,
    fn: Any,
) -> Response:
    """Do a review action, then show the item's new state; a refusal is shown next to the
    form's ``target`` field."""
    passage_id, field = target
    try:
        fn()
    except HTTPException as exc:
        session.rollback()
        if exc.status_code in (403, 404):  # not this operator's, or gone: back to the queue
            code = "no_access" if exc.status_code == 403 else "not_found"
            return RedirectResponse("/dashboard/review?" + urlencode({"err": code}), 303)
        return _review_item(
            request, session, user, settings, uow, passage_id, (field, messages.code_of(exc))
        )
    query = urlencode({"msg": DONE_CODES[action]})
    return RedirectResponse(f"/dashboard/review/{passage_id}?{query}", status_code=303)


@router.post("/review/{passage_id}/correct", response_model=None)
def review_correct(
    passage_id: IdPath,
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
    uow: UowDep,
    plate: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    return _after_action(
        request,
        session,
        user,
        settings,
        uow,
        (passage_id, "plate"),
        "correct_plate",
        lambda: act(session, uow, user, passage_id, "correct_plate", plate=plate),
    )


@router.post("/review/{passage_id}/charge", response_model=None)
def review_charge(
    passage_id: IdPath,
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
    uow: UowDep,
    amount_vnd: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Charge the tariff's fare, or the amount the operator typed (e.g. exit without entry)."""
    amount = parse_vnd(amount_vnd) if amount_vnd.strip() else None
    if amount_vnd.strip() and (amount is None or not 0 < amount <= 10_000_000):
        return _review_item(
            request, session, user, settings, uow, passage_id, ("amount_vnd", "amount_invalid")
        )
    return _after_action(
        request,
        session,
        user,
        settings,
        uow,
        (passage_id, "amount_vnd"),
        "charge",
        lambda: act(session, uow, user, passage_id, "charge", amount_vnd=amount, note=""),
    )


@router.post("/review/{passage_id}/confirm", response_model=None)
def review_confirm(
    passage_id: IdPath,
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
    uow: UowDep,
    plate: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """One of the exit's top matches: settled under that plate and charged once."""
    return _after_action(
        request,
        session,
        user,
        settings,
        uow,
        (passage_id, "plate"),
        "confirm_match",
        lambda: act(session, uow, user, passage_id, "confirm_match", plate=plate),
    )


@router.get("/passages/{passage_id}", response_class=HTMLResponse)
def passage_page(
    passage_id: IdPath,
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
) -> HTMLResponse:
    """One passage: what the gate saw and decided, and why (the matching evidence)."""
    row = queries.passage(session, passage_id)
    if row is None or row.lot_id not in queries.visible_lot_ids(session, user):
        raise PageForbidden() if row is not None else HTTPException(404, "no such passage")
    return render(
        request,
        "operator/passage.html",
        user,
        nav="passages",
        p=row,
        ev=evidence_view(row, driver=False),
        trail=queries.review_actions(session, row.id),
        frames=len(frame_paths(settings.data_dir, row.image_ref)) if row.image_ref else 0,
    )


@router.post("/review/{passage_id}/waive", response_model=None)
def review_waive(
    passage_id: IdPath,
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
    uow: UowDep,
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    if not reason.strip():
        return _review_item(
            request, session, user, settings, uow, passage_id, ("reason", "waive_needs_reason")
        )
    return _after_action(
        request,
        session,
        user,
        settings,
        uow,
        (passage_id, "reason"),
        "waive",
        lambda: act(session, uow, user, passage_id, "waive", reason=reason),
    )


@router.get("/invoices", response_class=HTMLResponse)
def invoices_page(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    search: SearchDep,
    status: Annotated[str, Query(max_length=10)] = "",
    code: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """Invoices by lot, plate, invoice code or number, date and the tax authority's status."""
    from einvoice import queries as inv

    lots, _ = lot_scope(session, user, search.lot_id)
    status = status if status in ("signed", "sent", "accepted", "rejected") else ""
    filters: dict[str, Any] = {
        "status": status or None,
        "plate": search.plate or None,
        "code": code.strip() or None,
        "date_from": search.day_from,
        "date_to": search.day_to,
    }
    filters = {k: v for k, v in filters.items() if v is not None}
    items, total = visible_invoices(
        session, user, search.lot_id or None, filters, PAGE_SIZE, search.offset
    )
    reasons = {}
    for item in items:
        if item.status == "rejected":
            detail = inv.get_invoice(session, item.id)
            reasons[item.id] = rejection_reasons(detail) if detail else []
    return render(
        request,
        "operator/invoices.html",
        user,
        nav="invoices",
        lots=lots,
        lot_names=_lot_names(lots),
        search=search,
        invoices=items,
        pager=Pager.of(search, total),
        reasons=reasons,
        status=status,
        code=code.strip(),
        extra={k: v for k, v in {"status": status, "code": code.strip()}.items() if v},
        csv_url=search.api_link(
            "/api/v1/invoices.csv", by_date=True, status=status, code=code.strip()
        ),
    )


@router.get("/tariffs", response_class=HTMLResponse)
def tariffs_page(request: Request, session: SessionDep, user: OperatorPage) -> HTMLResponse:
    lots = queries.visible_lots(session, user)
    return render(
        request,
        "operator/tariffs.html",
        user,
        nav="tariffs",
        tariffs=tariff_versions(),
        lots=lots,
        class_labels=charts.CLASS_LABELS,
    )
