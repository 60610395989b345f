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
from gateway.api.evidence import evidence_view
from gateway.api.invoices import rejection_reasons, visible_invoices
from gateway.api.lots import tariff_versions
from gateway.api.reports import date_range, today_local
from gateway.api.review import act
from gateway.api.schemas import IdPath
from gateway.auth.principal import Principal
from gateway.deps import SessionDep, SettingsDep, UowDep
from gateway.images import frame_paths
from gateway.web import charts
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
) -> HTMLResponse:
    return _review(request, session, user, settings)


def _review(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
    failed: tuple[int, str, str] | None = None,
) -> HTMLResponse:
    """The queue; ``failed`` = (passage id, field, catalogue code) of an action just refused:
    its error goes next to that field, or in the banner when the item has left the queue."""
    lot_ids = queries.visible_lot_ids(session, user)
    pending = queries.passages(session, lot_ids, review_status="pending", limit=50)
    resolved = queries.passages(session, lot_ids, review_status="resolved", limit=10)
    trails = {
        p.id: queries.review_actions(session, p.id) for p in [*pending.items, *resolved.items]
    }
    sessions = {
        p.id: queries.parking_session(session, p.session_id) if p.session_id else None
        for p in pending.items
    }
    frames = {
        p.id: len(frame_paths(settings.data_dir, p.image_ref)) if p.image_ref else 0
        for p in pending.items
    }
    evidence = {p.id: evidence_view(p, driver=False) for p in pending.items}
    errors: dict[int, FormErrors] = {}
    extra: dict[str, Any] = {}
    if failed is not None:
        passage_id, field, code = failed
        if any(p.id == passage_id for p in pending.items):
            errors[passage_id] = FormErrors()
            errors[passage_id].add(field, code)
        else:
            extra["flash"] = Flash("error", code)
    return render(
        request,
        "operator/review.html",
        user,
        status_code=200 if failed is None else 422,
        nav="review",
        pending=pending.items,
        resolved=resolved.items,
        trails=trails,
        sessions=sessions,
        frames=frames,
        evidence=evidence,
        errors=errors,
        **extra,
    )


def _after_action(
    request: Request,
    session: SessionDep,
    user: OperatorPage,
    settings: SettingsDep,
    target: tuple[int, str],
    fn: Any,
) -> Response:
    """Do a review action; a refusal is shown next to the form's ``target`` field."""
    try:
        fn()
    except HTTPException as exc:
        session.rollback()
        return _review(request, session, user, settings, (*target, messages.code_of(exc)))
    return RedirectResponse("/dashboard/review?" + urlencode({"msg": "saved"}), status_code=303)


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
        (passage_id, "plate"),
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
        return _review(
            request, session, user, settings, (passage_id, "amount_vnd", "amount_invalid")
        )
    return _after_action(
        request,
        session,
        user,
        settings,
        (passage_id, "amount_vnd"),
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
        (passage_id, "plate"),
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
    return _after_action(
        request,
        session,
        user,
        settings,
        (passage_id, "reason"),
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
