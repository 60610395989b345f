"""The driver portal's invoice details: who the account's invoices are made out to (a person,
or a company with its name, tax code and address), where they are emailed, and whether its
trips go on one consolidated invoice a month. Drawn on the settings page (driver.py); the same
rules as ``PUT /api/v1/accounts/{id}/invoicing``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from billing.domain.model import DomainError
from gateway.auth.audit import record
from gateway.deps import SessionDep, UowDep, release
from gateway.orm import User
from gateway.web.forms import FormErrors, looks_like_email
from gateway.web.portal import account_id_of, back
from gateway.web.session import DriverPage

router = APIRouter(prefix="/portal")


def invoicing_values(account: Any) -> dict[str, Any]:
    """The invoice form as the account stands."""
    company = account.kind == "business"
    return {
        "buyer_kind": "company" if company else "person",
        "company_name": account.name if company else "",
        "tax_code": account.tax_code or "",
        "company_address": (account.address or "") if company else "",
        "invoice_email": account.invoice_email or "",
        "monthly": bool(account.invoice_monthly),
    }


def normalize_tax_code(typed: str) -> str:
    """A tax code as people type it ("0101234567 001", "0101234567001") as the tax authority
    writes it ("0101234567-001"); anything else is returned as typed, to be refused."""
    digits = "".join(ch for ch in typed if not ch.isspace() and ch not in ".-")
    if digits.isdigit() and len(digits) == 13:
        return f"{digits[:10]}-{digits[10:]}"
    return digits if digits.isdigit() else typed.strip()


@router.post("/invoicing", response_model=None)
def invoicing(
    request: Request,
    session: SessionDep,
    user: DriverPage,
    uow: UowDep,
    buyer_kind: Annotated[str, Form(max_length=10)] = "person",
    company_name: Annotated[str, Form(max_length=200)] = "",
    tax_code: Annotated[str, Form(max_length=30)] = "",
    company_address: Annotated[str, Form(max_length=300)] = "",
    invoice_email: Annotated[str, Form(max_length=200)] = "",
    monthly: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Who the account's invoices are made out to (a company: name, tax code, address), where
    they are emailed, and whether its trips go on one invoice a month."""
    from billing.domain.model import Owner, OwnerKind, is_valid_tax_code
    from billing.services import set_invoicing

    account_id = account_id_of(user)
    from gateway.web.driver import _account, _settings

    account = _account(session, user)
    company = buyer_kind == "company"
    code, address = normalize_tax_code(tax_code), invoice_email.strip()
    errors = FormErrors()
    if company:
        if not company_name.strip():
            errors.add("company_name", "company_name_required")
        if not is_valid_tax_code(code):
            errors.add("tax_code", "tax_code_invalid")
        if not company_address.strip():
            errors.add("company_address", "company_address_required")
    elif monthly is not None:
        errors.add("monthly", "monthly_needs_company")
    if address and not looks_like_email(address):
        errors.add("invoice_email", "email_invalid")
    if not errors:
        if company:
            owner = Owner(OwnerKind.BUSINESS, company_name.strip(), code, company_address.strip())
        else:
            me = session.get(User, user.user_id)
            person = account.name if account.kind != "business" else ""
            fallback = (me.display_name or me.username) if me is not None else ""
            owner = Owner(OwnerKind.PERSON, person or fallback or "—")
        release(session)
        try:
            set_invoicing(
                uow, account_id, owner, invoice_email=address or None, monthly=monthly is not None
            )
        except DomainError as exc:
            errors.add("tax_code" if exc.code == "tax_code_invalid" else "invoice_email", exc.code)
    if errors:
        values = {
            "buyer_kind": "company" if company else "person",
            "company_name": company_name,
            "tax_code": tax_code,
            "company_address": company_address,
            "invoice_email": invoice_email,
            "monthly": monthly is not None,
        }
        return _settings(request, session, user, errors, values, 422)
    record(
        session,
        user,
        "account.invoicing",
        "account",
        account_id,
        {"company": company, "tax_code": code if company else None, "monthly": bool(monthly)},
    )
    return back("/portal/settings", msg="invoicing_saved")
