"""The driver portal: balance, vehicles, top-up, auto top-up, trips, invoices with QR codes."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gateway.api import billing_port, queries
from gateway.api.invoices import rejection_reasons
from gateway.api.schemas import IdPath
from gateway.api.topups import MAX_TOP_UP_VND, MIN_TOP_UP_VND, simulate_payment
from gateway.auth.audit import record
from gateway.auth.principal import Principal
from gateway.deps import SessionDep, SessionFactoryDep, SettingsDep, UowDep, release
from gateway.invoice_links import lookup_link, public_base
from gateway.web.rendering import render
from gateway.web.session import DriverPage

router = APIRouter(prefix="/portal")

TOP_UP_CHOICES = (100_000, 200_000, 500_000, 1_000_000)


def _account_id(user: Principal) -> int:
    if user.account_id is None:
        raise HTTPException(403, "no transport account is linked to this sign-in")
    return int(user.account_id)


def _back(path: str = "/portal", **params: str) -> RedirectResponse:
    query = ("?" + urlencode(params)) if params else ""
    return RedirectResponse(path + query, status_code=303)


@router.get("", response_class=HTMLResponse)
def portal(
    request: Request,
    session: SessionDep,
    user: DriverPage,
    msg: str | None = None,
    err: str | None = None,
) -> HTMLResponse:
    account_id = _account_id(user)
    account = queries.account(session, account_id)
    if account is None:
        raise HTTPException(404, f"no account {account_id}")
    trips = queries.sessions(session, None, account_id=account_id, limit=5)
    topups = queries.topups(session, account_id, 5, 0)
    return render(
        request,
        "driver/portal.html",
        user,
        nav="portal",
        account=account,
        low=account.balance_vnd < account.low_balance_notice_vnd,
        vehicles=queries.vehicles(session, account_id),
        trips=trips.items,
        lots={lot.id: lot.name for lot in _all_lots(session)},
        topups=topups.items,
        choices=TOP_UP_CHOICES,
        min_top_up=MIN_TOP_UP_VND,
        max_top_up=MAX_TOP_UP_VND,
        msg=msg,
        err=err,
    )


@router.post("/topup")
def top_up(
    session: SessionDep,
    factory: SessionFactoryDep,
    user: DriverPage,
    uow: UowDep,
    settings: SettingsDep,
    amount_vnd: Annotated[int, Form(ge=0, le=10**12)],
) -> RedirectResponse:
    """Pay with the simulated provider; the credit arrives through its signed webhook."""
    account_id = _account_id(user)
    if not MIN_TOP_UP_VND <= amount_vnd <= MAX_TOP_UP_VND:
        return _back(err=f"{MIN_TOP_UP_VND}-{MAX_TOP_UP_VND}")
    release(session)
    code, answer = simulate_payment(
        factory, uow, settings.payment_webhook_secret, account_id, amount_vnd
    )
    if code != 200:
        return _back(err=str(answer.get("detail", "top-up failed")))
    record(session, user, "account.top_up", "account", account_id, {"amount_vnd": amount_vnd})
    return _back(msg="payment_done")


@router.post("/vehicles")
def add_vehicle(
    session: SessionDep,
    user: DriverPage,
    uow: UowDep,
    plate: Annotated[str, Form(max_length=20)],
    vehicle_class: Annotated[str, Form(max_length=20)],
) -> RedirectResponse:
    account_id = _account_id(user)
    if vehicle_class not in ("motorbike", "car_le9", "car_gt9_truck"):
        return _back(err=f"unknown vehicle class {vehicle_class}")
    release(session)
    try:
        billing_port.add_vehicle(uow, account_id, plate, vehicle_class, "white")
    except (billing_port.Rejected, billing_port.NotFound) as exc:
        return _back(err=str(exc))
    record(session, user, "vehicle.add", "account", account_id, {"plate": plate})
    return _back(msg="ok")


@router.post("/vehicles/{vehicle_id}/remove")
def remove_vehicle(
    vehicle_id: IdPath, session: SessionDep, user: DriverPage, uow: UowDep
) -> RedirectResponse:
    account_id = _account_id(user)
    release(session)
    try:
        billing_port.remove_vehicle(uow, account_id, vehicle_id)
    except (billing_port.Rejected, billing_port.NotFound) as exc:
        return _back(err=str(exc))
    record(session, user, "vehicle.remove", "account", account_id, {"vehicle_id": vehicle_id})
    return _back(msg="ok")


@router.post("/auto-topup")
def auto_topup(
    session: SessionDep,
    user: DriverPage,
    uow: UowDep,
    enabled: Annotated[str | None, Form()] = None,
    threshold_vnd: Annotated[int | None, Form(ge=0, le=MAX_TOP_UP_VND)] = None,
    amount_vnd: Annotated[int | None, Form(ge=0, le=MAX_TOP_UP_VND)] = None,
) -> RedirectResponse:
    account_id = _account_id(user)
    release(session)
    on = enabled is not None
    if on and (threshold_vnd is None or amount_vnd is None or amount_vnd < MIN_TOP_UP_VND):
        return _back(err="auto top-up needs a threshold and an amount of at least 10.000 ₫")
    try:
        billing_port.set_auto_topup(
            uow, account_id, threshold_vnd if on else None, amount_vnd if on else None
        )
    except (billing_port.Rejected, billing_port.NotFound) as exc:
        return _back(err=str(exc))
    record(session, user, "account.auto_topup", "account", account_id, {"enabled": on})
    return _back(msg="ok")


@router.get("/trips", response_class=HTMLResponse)
def trips(request: Request, session: SessionDep, user: DriverPage, page: int = 0) -> HTMLResponse:
    account_id = _account_id(user)
    window = queries.sessions(session, None, account_id=account_id, limit=50, offset=50 * page)
    lots = {lot.id: lot.name for lot in _all_lots(session)}
    return render(
        request,
        "driver/trips.html",
        user,
        nav="trips",
        trips=window.items,
        total=window.total,
        page=page,
        lots=lots,
    )


def _all_lots(session: SessionDep) -> list[Any]:
    from sqlalchemy import select

    from billing.adapters import orm as b

    return list(session.scalars(select(b.Lot)))


@router.get("/invoices", response_class=HTMLResponse)
def invoices(
    request: Request, session: SessionDep, user: DriverPage, settings: SettingsDep
) -> HTMLResponse:
    from einvoice import queries as inv
    from einvoice.render import qr_svg

    account_id = _account_id(user)
    items = inv.list_invoices(session, account_id=account_id, limit=100)
    reasons = {}
    for item in items:
        if item.status == "rejected":
            detail = inv.get_invoice(session, item.id)
            reasons[item.id] = rejection_reasons(detail) if detail else []
    qr = {}
    for item in items:
        url = lookup_link(public_base(settings, request), item.lookup_code)
        qr[item.id] = (url, qr_svg(url) if url else "")
    return render(
        request,
        "driver/invoices.html",
        user,
        nav="invoices",
        invoices=items,
        qr=qr,
        reasons=reasons,
    )
