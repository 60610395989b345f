"""The driver portal's own account pages: home (balance, top-up), vehicles, settings.

Forms that fail are drawn again with each error next to its field (status 422); forms that
work redirect with a catalogue code for the banner.

A top-up opens an intent and sends the driver to the chosen provider's checkout page; the
provider sends them back to the intent's page, which shows it pending until the provider's
signed webhook credits it (``gateway.payments``). No provider configured: no top-up form.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from billing.domain.model import DomainError
from billing.domain.payments import MAX_TOP_UP_VND, MIN_TOP_UP_VND
from billing.services.intents import get_topup_intent, list_topup_intents
from gateway.api import billing_port, queries
from gateway.api.schemas import IdPath
from gateway.api.topups import ProvidersDep, portal_return_url
from gateway.auth.audit import record
from gateway.auth.phones import display_phone, normalize_phone
from gateway.deps import SessionDep, UowDep, release
from gateway.orm import User
from gateway.payments.checkout import UnknownProvider, audit_checkout, start_checkout
from gateway.web.formatting import vnd
from gateway.web.forms import FormErrors, looks_like_email, parse_vnd
from gateway.web.portal import account_id_of, back, render_portal
from gateway.web.session import DriverPage

router = APIRouter(prefix="/portal")

TOP_UP_CHOICES = (100_000, 200_000, 500_000, 1_000_000)
VEHICLE_CLASSES = ("car_le9", "motorbike", "car_gt9_truck")
MAX_NOTICE_LEVEL_VND = 10_000_000


def _account(session: SessionDep, user: DriverPage) -> Any:
    account = queries.account(session, account_id_of(user))
    if account is None:
        raise HTTPException(404, "not_found")
    return account


def low_balance(account: Any) -> bool:
    return bool(account.balance_vnd < account.low_balance_notice_vnd)


@router.get("", response_class=HTMLResponse)
def home(
    request: Request, session: SessionDep, user: DriverPage, providers: ProvidersDep
) -> HTMLResponse:
    return _home(request, session, user, providers)


def _home(
    request: Request,
    session: SessionDep,
    user: DriverPage,
    providers: ProvidersDep,
    errors: FormErrors | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    from gateway.web.driver_history import trip_cards

    account = _account(session, user)
    account_id = account_id_of(user)
    trips = queries.sessions(session, None, account_id=account_id, limit=3)
    uow = request.app.state.uow_factory()
    release(session)
    intents = [i for i in list_topup_intents(uow, account_id, 10) if i.kind == "checkout"][:5]
    return render_portal(
        request,
        session,
        user,
        "driver/home.html",
        "portal",
        status_code=status_code,
        account=account,
        low=low_balance(account),
        vehicles=queries.vehicles(session, account_id),
        trips=trip_cards(session, trips.items),
        choices=TOP_UP_CHOICES,
        min_top_up=MIN_TOP_UP_VND,
        max_top_up=MAX_TOP_UP_VND,
        providers=list(providers.values()),
        provider_labels={p.name: p.label for p in providers.values()},
        intents=intents,
        errors=errors or FormErrors(),
        values=values or {},
    )


@router.post("/topup", response_model=None)
def top_up(
    request: Request,
    session: SessionDep,
    user: DriverPage,
    uow: UowDep,
    providers: ProvidersDep,
    provider: Annotated[str, Form(max_length=40)] = "",
    amount_vnd: Annotated[str, Form(max_length=20)] = "",
    other_amount: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Open a top-up intent and go to the provider's checkout; the money arrives through the
    provider's signed webhook, and the intent's page shows it until then."""
    account_id = account_id_of(user)
    amount = parse_vnd(other_amount) if other_amount.strip() else parse_vnd(amount_vnd)
    errors = FormErrors()
    if amount is None or not MIN_TOP_UP_VND <= amount <= MAX_TOP_UP_VND:
        field = "other_amount" if other_amount.strip() else "amount_vnd"
        errors.add(field, "amount_range", min=vnd(MIN_TOP_UP_VND), max=vnd(MAX_TOP_UP_VND))
    if provider not in providers:
        errors.add("provider", "provider_unknown")
    typed = {"amount_vnd": amount_vnd, "other_amount": other_amount, "provider": provider}
    if errors:
        return _home(request, session, user, providers, errors, 422, typed)
    assert amount is not None
    release(session)
    try:
        checkout = start_checkout(
            uow, providers, account_id, provider, amount, portal_return_url(request)
        )
    except (UnknownProvider, DomainError) as exc:
        errors.add("amount_vnd", getattr(exc, "code", "try_again"))
        return _home(request, session, user, providers, errors, 422, typed)
    audit_checkout(session, user, checkout)
    return RedirectResponse(checkout.url, status_code=303)


@router.get("/topups/{reference}", response_class=HTMLResponse, name="portal_topup")
def topup_page(
    reference: Annotated[str, Path(min_length=1, max_length=120)],
    request: Request,
    session: SessionDep,
    user: DriverPage,
    uow: UowDep,
    providers: ProvidersDep,
) -> HTMLResponse:
    """One top-up request: pending (the page refreshes itself), credited, failed or expired.

    The intent is read before the balance: the credit and the intent's new status commit
    together, so a page that says "credited" always shows the balance with the money in it."""
    account_id = account_id_of(user)
    release(session)  # a fresh snapshot for the balance below (SQLite's begins at first read)
    intent = get_topup_intent(uow, reference)
    if intent is None or intent.account_id != account_id:
        raise HTTPException(404, "not_found")
    account = _account(session, user)
    known = providers.get(intent.provider)
    return render_portal(
        request,
        session,
        user,
        "driver/topup.html",
        "portal",
        intent=intent,
        provider_label=known.label if known else intent.provider,
        balance_vnd=account.balance_vnd,
    )


# ------------------------------------------------------------------ vehicles


@router.get("/vehicles", response_class=HTMLResponse)
def vehicles_page(request: Request, session: SessionDep, user: DriverPage) -> HTMLResponse:
    return _vehicles(request, session, user)


def _vehicles(
    request: Request,
    session: SessionDep,
    user: DriverPage,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render_portal(
        request,
        session,
        user,
        "driver/vehicles.html",
        "vehicles",
        status_code=status_code,
        vehicles=queries.vehicles(session, account_id_of(user)),
        classes=VEHICLE_CLASSES,
        errors=errors or FormErrors(),
        values=values or {},
    )


@router.post("/vehicles", response_model=None)
def add_vehicle(
    request: Request,
    session: SessionDep,
    user: DriverPage,
    uow: UowDep,
    plate: Annotated[str, Form(max_length=20)] = "",
    vehicle_class: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    account_id = account_id_of(user)
    values = {"plate": plate, "vehicle_class": vehicle_class}
    errors = FormErrors()
    if not plate.strip():
        errors.add("plate", "required")
    if vehicle_class not in VEHICLE_CLASSES:
        errors.add("vehicle_class", "vehicle_class_invalid")
    if not errors:
        release(session)
        try:
            billing_port.add_vehicle(uow, account_id, plate, vehicle_class, "white")
        except (billing_port.Rejected, billing_port.NotFound) as exc:
            errors.add("plate", exc.code)
    if errors:
        return _vehicles(request, session, user, errors, values, 422)
    record(session, user, "vehicle.add", "account", account_id, {"plate": plate})
    return back("/portal/vehicles", msg="vehicle_added")


@router.post("/vehicles/{vehicle_id}/remove")
def remove_vehicle(
    vehicle_id: IdPath, session: SessionDep, user: DriverPage, uow: UowDep
) -> RedirectResponse:
    account_id = account_id_of(user)
    release(session)
    try:
        billing_port.remove_vehicle(uow, account_id, vehicle_id)
    except (billing_port.Rejected, billing_port.NotFound):
        return back("/portal/vehicles", err="vehicle_not_found")
    record(session, user, "vehicle.remove", "account", account_id, {"vehicle_id": vehicle_id})
    return back("/portal/vehicles", msg="vehicle_removed")


# ------------------------------------------------------------------ settings


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, session: SessionDep, user: DriverPage) -> HTMLResponse:
    return _settings(request, session, user)


def _settings(
    request: Request,
    session: SessionDep,
    user: DriverPage,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    from gateway.web.driver_invoicing import invoicing_values

    account = _account(session, user)
    me = session.get(User, user.user_id)
    defaults = {
        "enabled": bool(account.auto_topup_amount_vnd),
        "threshold_vnd": account.auto_topup_threshold_vnd or 50_000,
        "amount_vnd": account.auto_topup_amount_vnd or 200_000,
        "phone": display_phone(account.phone) if account.phone else "",
        "email": account.email or "",
        "notice_level_vnd": account.low_balance_notice_vnd,
        "notify_sms": bool(me and me.notify_sms),
        "notify_email": bool(me and me.notify_email),
        **invoicing_values(account),
    }
    return render_portal(
        request,
        session,
        user,
        "driver/settings.html",
        "settings",
        status_code=status_code,
        account=account,
        errors=errors or FormErrors(),
        values={**defaults, **(values or {})},
        min_top_up=MIN_TOP_UP_VND,
        auto_top_up=any(p.pulls for p in request.app.state.payment_providers.values()),
    )


@router.post("/auto-topup", response_model=None)
def auto_topup(
    request: Request,
    session: SessionDep,
    user: DriverPage,
    uow: UowDep,
    enabled: Annotated[str | None, Form(max_length=10)] = None,
    threshold_vnd: Annotated[str, Form(max_length=20)] = "",
    amount_vnd: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    account_id = account_id_of(user)
    on = enabled is not None
    threshold, amount = parse_vnd(threshold_vnd), parse_vnd(amount_vnd)
    errors = FormErrors()
    if on:
        if threshold is None or threshold > MAX_TOP_UP_VND:
            errors.add("threshold_vnd", "amount_invalid")
        if amount is None or not MIN_TOP_UP_VND <= amount <= MAX_TOP_UP_VND:
            errors.add(
                "amount_vnd", "amount_range", min=vnd(MIN_TOP_UP_VND), max=vnd(MAX_TOP_UP_VND)
            )
    if not errors:
        release(session)
        try:
            billing_port.set_auto_topup(
                uow, account_id, threshold if on else None, amount if on else None
            )
        except (billing_port.Rejected, billing_port.NotFound) as exc:
            errors.add("amount_vnd", exc.code)
    if errors:
        values = {"enabled": on, "threshold_vnd": threshold_vnd, "amount_vnd": amount_vnd}
        return _settings(request, session, user, errors, values, 422)
    record(session, user, "account.auto_topup", "account", account_id, {"enabled": on})
    return back("/portal/settings", msg="auto_topup_saved")


@router.post("/contacts", response_model=None)
def contacts(
    request: Request,
    session: SessionDep,
    user: DriverPage,
    uow: UowDep,
    phone: Annotated[str, Form(max_length=30)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    notice_level_vnd: Annotated[str, Form(max_length=20)] = "",
    notify_sms: Annotated[str | None, Form(max_length=10)] = None,
    notify_email: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Where notices go, which channels, and the balance that triggers the low-balance one."""
    from billing.services import set_contacts, set_low_balance_notice

    account_id = account_id_of(user)
    errors = FormErrors()
    e164 = normalize_phone(phone) if phone.strip() else None
    if phone.strip() and e164 is None:
        errors.add("phone", "phone_invalid")
    address = email.strip()
    if address and not looks_like_email(address):
        errors.add("email", "email_invalid")
    level = parse_vnd(notice_level_vnd)
    if level is None or level > MAX_NOTICE_LEVEL_VND:
        errors.add("notice_level_vnd", "amount_invalid")
    if errors or level is None:
        values = {
            "phone": phone,
            "email": email,
            "notice_level_vnd": notice_level_vnd,
            "notify_sms": notify_sms is not None,
            "notify_email": notify_email is not None,
        }
        return _settings(request, session, user, errors, values, 422)
    me = session.get(User, user.user_id)
    if me is not None:
        me.notify_sms = notify_sms is not None
        me.notify_email = notify_email is not None
    release(session)
    set_contacts(uow, account_id, phone=e164, email=address or None)
    set_low_balance_notice(uow, account_id, level)
    record(session, user, "account.contacts", "account", account_id, {"notice_level": level})
    return back("/portal/settings", msg="contacts_saved")
