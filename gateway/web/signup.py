"""Sign-up with a phone number and a plate, and password reset, both proved by a code that goes
to the phone through the notification outbox (SMS; the stub's inbox in the demo and tests).

Nothing is created until the code is confirmed: the form's answers wait in the verification
row (the password only as its hash). Errors never say whose a plate or a number is; the reset
form answers the same whether or not the number has an account.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.adapters import orm as b
from billing.domain.plates import canonical_plate, plate_key
from gateway.api import billing_port
from gateway.auth import verification
from gateway.auth.audit import record
from gateway.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from gateway.auth.phones import masked_phone, normalize_phone
from gateway.auth.users import create_user, principal_for
from gateway.deps import NoticeWorkerDep, SessionDep, SettingsDep, SignerDep, UowDep, release
from gateway.notices.queue import enqueue
from gateway.notices.worker import NoticeWorker
from gateway.orm import User
from gateway.web.auth_pages import signed_in
from gateway.web.driver import VEHICLE_CLASSES
from gateway.web.forms import FormErrors, looks_like_email
from gateway.web.portal import back
from gateway.web.rendering import lang_of, render

router = APIRouter()

Text = Annotated[str, Form(max_length=120)]
Secret = Annotated[str, Form(max_length=512)]
Token = Annotated[str, Form(max_length=64)]
# Where each kind of code is typed in.
CODE_PAGES: dict[str, str] = {"signup": "auth/verify.html", "reset": "auth/reset_verify.html"}


def _now() -> datetime:
    return datetime.now(UTC)


def _send_code(
    session: Session,
    background: BackgroundTasks,
    worker: NoticeWorker,
    issued: verification.Issued,
    lang: str,
) -> None:
    """The code into the notification outbox, committed, then sent right after the answer."""
    v = issued.verification
    notice = enqueue(
        session,
        key=f"{v.purpose}_code:{v.token}",
        kind=f"{v.purpose}_code",
        code=f"notice_{v.purpose}_code",
        params={"code": issued.code, "minutes": int(verification.CODE_TTL.total_seconds() // 60)},
        lang=lang,
        to=[("sms", v.phone)],
    )
    session.commit()
    background.add_task(worker.deliver_due, notice.id)


# ------------------------------------------------------------------ sign-up


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request) -> HTMLResponse:
    return render(request, "auth/signup.html", errors=FormErrors(), values={})


@router.post("/signup", response_model=None)
def signup(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    worker: NoticeWorkerDep,
    full_name: Text = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    plate: Annotated[str, Form(max_length=20)] = "",
    vehicle_class: Annotated[str, Form(max_length=20)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    password: Secret = "",
    password2: Secret = "",
) -> Response:
    values = {
        "full_name": full_name,
        "phone": phone,
        "plate": plate,
        "vehicle_class": vehicle_class,
        "email": email,
    }
    errors = FormErrors()
    if not full_name.strip():
        errors.add("full_name", "name_required")
    e164 = normalize_phone(phone)
    if e164 is None:
        errors.add("phone", "phone_invalid")
    elif session.scalar(select(User.id).where(User.phone == e164)) is not None:
        errors.add("phone", "phone_taken")
    canonical = canonical_plate(plate)
    if canonical is None:
        errors.add("plate", "plate_invalid")
    elif plate_registered(session, canonical):
        errors.add("plate", "plate_taken")
    if vehicle_class not in VEHICLE_CLASSES:
        errors.add("vehicle_class", "vehicle_class_invalid")
    if email.strip() and not looks_like_email(email.strip()):
        errors.add("email", "email_invalid")
    _check_passwords(errors, password, password2)
    if not errors and e164 is not None and canonical is not None:
        payload = {
            "name": full_name.strip(),
            "plate": canonical,
            "vehicle_class": vehicle_class,
            "email": email.strip() or None,
            "password_hash": hash_password(password),
            "lang": lang_of(request),
        }
        try:
            issued = verification.issue(
                session, settings.secret_key, "signup", e164, payload, _now()
            )
        except verification.VerificationError as exc:
            errors.add("phone", exc.code, **exc.params)
        else:
            _send_code(session, background, worker, issued, lang_of(request))
            return RedirectResponse(
                f"/signup/verify?token={issued.verification.token}", status_code=303
            )
    return render(request, "auth/signup.html", status_code=422, errors=errors, values=values)


def plate_registered(session: Session, canonical: str) -> bool:
    return (
        session.scalar(
            select(b.Vehicle.id).where(
                b.Vehicle.plate_key == plate_key(canonical), b.Vehicle.active.is_(True)
            )
        )
        is not None
    )


def _check_passwords(errors: FormErrors, password: str, password2: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.add("password", "password_too_short", min=MIN_PASSWORD_LENGTH)
    elif password != password2:
        errors.add("password2", "passwords_differ")


def _code_page(
    request: Request,
    session: Session,
    token: str,
    purpose: verification.Purpose,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    v = verification.pending(session, token, purpose)
    if v is None:
        start = "/signup" if purpose == "signup" else "/reset"
        return RedirectResponse(f"{start}?err=code_expired", status_code=303)
    return render(
        request,
        CODE_PAGES[purpose],
        status_code=status_code,
        token=token,
        phone=masked_phone(v.phone),
        errors=errors or FormErrors(),
    )


@router.get("/signup/verify", response_model=None)
def signup_verify_form(request: Request, session: SessionDep, token: str = "") -> Response:
    return _code_page(request, session, token, "signup")


@router.post("/signup/verify", response_model=None)
def signup_verify(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    signer: SignerDep,
    uow: UowDep,
    token: Token = "",
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        v = verification.confirm(session, settings.secret_key, token, "signup", code, _now())
    except verification.VerificationError as exc:
        errors = FormErrors()
        errors.add("code", exc.code, **exc.params)
        session.commit()  # the wrong try counts
        return _code_page(request, session, token, "signup", errors, 422)
    data: dict[str, Any] = dict(v.payload)
    phone = v.phone
    release(session)
    account_id = _open_account(uow, data, phone)
    if account_id is None:
        return RedirectResponse("/signup?err=plate_taken", status_code=303)
    user = create_user(
        session,
        phone,
        "",
        "driver",
        display_name=data["name"],
        account_id=account_id,
        phone=phone,
        lang=data.get("lang") or "vi",
        password_hash=data["password_hash"],
    )
    principal = principal_for(session, user)
    record(session, principal, "auth.sign_up", "account", account_id, {"plate": data["plate"]})
    return signed_in(request, signer, user, "/portal?msg=signed_up")


def _open_account(uow: Any, data: dict[str, Any], phone: str) -> int | None:
    """The transport account with its first vehicle; None when the plate was taken meanwhile
    (the account is then closed again: a sign-up gives an account with its plate or nothing)."""
    from billing.domain.model import Owner, OwnerKind
    from billing.services import create_account, set_account_status

    account_id = create_account(
        uow, Owner(OwnerKind.PERSON, data["name"]), phone=phone, email=data.get("email")
    )
    try:
        billing_port.add_vehicle(uow, account_id, data["plate"], data["vehicle_class"], "white")
    except billing_port.Rejected:
        set_account_status(uow, account_id, "closed")
        return None
    return account_id


@router.post("/{purpose}/resend", response_model=None)
def resend(
    purpose: verification.Purpose,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    worker: NoticeWorkerDep,
    token: Token = "",
) -> Response:
    """A new code for a sign-up or a reset under way (the rate limits of ``issue`` apply)."""
    v = verification.pending(session, token, purpose)
    if v is None:
        return _code_page(request, session, token, purpose)
    try:
        issued = verification.issue(
            session, settings.secret_key, purpose, v.phone, dict(v.payload), _now()
        )
    except verification.VerificationError as exc:
        errors = FormErrors()
        errors.add("code", exc.code, **exc.params)
        return _code_page(request, session, token, purpose, errors, 429)
    if purpose == "signup" or v.payload.get("known"):
        _send_code(session, background, worker, issued, lang_of(request))
    return RedirectResponse(f"/{purpose}/verify?token={issued.verification.token}", status_code=303)


# ------------------------------------------------------------------ password reset


@router.get("/reset", response_class=HTMLResponse)
def reset_form(request: Request) -> HTMLResponse:
    return render(request, "auth/reset.html", errors=FormErrors(), values={})


@router.post("/reset", response_model=None)
def reset(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    worker: NoticeWorkerDep,
    phone: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    errors = FormErrors()
    e164 = normalize_phone(phone)
    if e164 is None:
        errors.add("phone", "phone_invalid")
        return render(
            request, "auth/reset.html", status_code=422, errors=errors, values={"phone": phone}
        )
    user = session.scalar(select(User).where(User.phone == e164, User.active.is_(True)))
    # The same answer whether or not the number has an account; a code goes only if it has.
    try:
        issued = verification.issue(
            session, settings.secret_key, "reset", e164, {"known": user is not None}, _now()
        )
    except verification.VerificationError as exc:
        errors.add("phone", exc.code, **exc.params)
        return render(
            request, "auth/reset.html", status_code=429, errors=errors, values={"phone": phone}
        )
    if user is not None:
        _send_code(session, background, worker, issued, user.lang or lang_of(request))
    return RedirectResponse(f"/reset/verify?token={issued.verification.token}", status_code=303)


@router.get("/reset/verify", response_model=None)
def reset_verify_form(request: Request, session: SessionDep, token: str = "") -> Response:
    return _code_page(request, session, token, "reset")


@router.post("/reset/verify", response_model=None)
def reset_verify(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Token = "",
    code: Annotated[str, Form(max_length=20)] = "",
    password: Secret = "",
    password2: Secret = "",
) -> Response:
    errors = FormErrors()
    _check_passwords(errors, password, password2)
    if errors:
        return _code_page(request, session, token, "reset", errors, 422)
    try:
        v = verification.confirm(session, settings.secret_key, token, "reset", code, _now())
    except verification.VerificationError as exc:
        errors.add("code", exc.code, **exc.params)
        session.commit()  # the wrong try counts
        return _code_page(request, session, token, "reset", errors, 422)
    user = session.scalar(select(User).where(User.phone == v.phone, User.active.is_(True)))
    if user is None:  # cannot happen with a right code, which only a known number gets
        return back("/reset", err="code_expired")
    # A new hash also ends every session signed with the old one (tokens carry its fingerprint).
    user.password_hash = hash_password(password)
    record(session, principal_for(session, user), "auth.password_reset", "user", user.id)
    return back("/login", msg="password_changed")
