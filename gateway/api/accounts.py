"""Transport accounts and their vehicles. A driver sees only their own; an admin sees all."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.api import billing_port, queries
from gateway.api.access import AccessFirstRoute, AccountId
from gateway.api.schemas import (
    AUTH_ERRORS,
    CodedHTTPException,
    IdPath,
    Page,
    PagingDep,
    conflict,
    invalid,
    not_found,
)
from gateway.auth.audit import record
from gateway.deps import AdminUser, CurrentUser, SessionDep, UowDep, ensure_account, release

router = APIRouter(tags=["accounts"], responses=AUTH_ERRORS, route_class=AccessFirstRoute)
NO_ACCOUNT = not_found("no such account")

VehicleClassName = Literal["motorbike", "car_le9", "car_gt9_truck"]


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    name: str
    tax_code: str | None
    status: str
    balance_vnd: int
    low_balance_notice_vnd: int
    auto_topup_threshold_vnd: int | None
    auto_topup_amount_vnd: int | None
    low_balance: bool = False
    created_at: datetime
    address: str | None = None
    invoice_email: str | None = None
    invoice_monthly: bool = False


class VehicleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    account_id: int
    plate_text: str
    vehicle_class: str
    plate_colour: str
    active: bool


class VehicleIn(BaseModel):
    plate: str = Field(min_length=4, max_length=20, examples=["30A-123.45"])
    vehicle_class: VehicleClassName
    colour: Literal["white", "yellow", "blue", "red"] = "white"


class AutoTopUpIn(BaseModel):
    """Both amounts to switch on; both null to switch off."""

    enabled: bool
    threshold_vnd: int | None = Field(default=None, ge=0, le=10_000_000, strict=True)
    amount_vnd: int | None = Field(default=None, ge=10_000, le=10_000_000, strict=True)

    @model_validator(mode="after")
    def _both_when_enabled(self) -> AutoTopUpIn:
        if self.enabled and (self.threshold_vnd is None or self.amount_vnd is None):
            raise ValueError("threshold_vnd and amount_vnd are needed to enable auto top-up")
        return self


class TopUpOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    provider: str
    provider_txn_id: str
    amount_vnd: int
    auto: bool
    created_at: datetime


def account_out(row: object) -> AccountOut:
    out = AccountOut.model_validate(row)
    out.low_balance = out.balance_vnd < out.low_balance_notice_vnd
    return out


def load_account(session: SessionDep, user: CurrentUser, account_id: int) -> AccountOut:
    """The account; routes take ``AccountId``, which checked access before anything else."""
    ensure_account(user, account_id)
    row = queries.account(session, account_id)
    if row is None:
        raise CodedHTTPException(status.HTTP_404_NOT_FOUND, "account_not_found")
    return account_out(row)


@router.get("/accounts", response_model=Page[AccountOut])
def list_accounts(
    session: SessionDep,
    _admin: AdminUser,
    paging: PagingDep,
    q: Annotated[str | None, Query(max_length=100, description="name or tax code")] = None,
) -> Page[AccountOut]:
    """Every transport account (admins only; a driver reads ``/accounts/{own id}``)."""
    window = queries.accounts(session, q, paging.limit, paging.offset)
    return Page(
        items=[account_out(r) for r in window.items],
        total=window.total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/accounts/{account_id}", response_model=AccountOut, responses=NO_ACCOUNT)
def get_account(account_id: AccountId, session: SessionDep, user: CurrentUser) -> AccountOut:
    return load_account(session, user, account_id)


@router.get(
    "/accounts/{account_id}/vehicles", response_model=list[VehicleOut], responses=NO_ACCOUNT
)
def list_vehicles(
    account_id: AccountId, session: SessionDep, user: CurrentUser
) -> list[VehicleOut]:
    load_account(session, user, account_id)
    return [VehicleOut.model_validate(v) for v in queries.vehicles(session, account_id)]


@router.post(
    "/accounts/{account_id}/vehicles",
    response_model=VehicleOut,
    status_code=201,
    responses={**NO_ACCOUNT, **conflict("plate invalid or already registered")},
)
def add_vehicle(
    account_id: AccountId, body: VehicleIn, session: SessionDep, user: CurrentUser, uow: UowDep
) -> VehicleOut:
    load_account(session, user, account_id)
    release(session)
    try:
        vehicle_id = billing_port.add_vehicle(
            uow, account_id, body.plate, body.vehicle_class, body.colour
        )
    except billing_port.Rejected as exc:
        raise CodedHTTPException(status.HTTP_409_CONFLICT, exc.code) from exc
    record(session, user, "vehicle.add", "account", account_id, {"plate": body.plate})
    row = next(v for v in queries.vehicles(session, account_id) if v.id == vehicle_id)
    return VehicleOut.model_validate(row)


@router.delete(
    "/accounts/{account_id}/vehicles/{vehicle_id}",
    status_code=204,
    responses=not_found("no such account, or no such vehicle on it"),
)
def remove_vehicle(
    account_id: AccountId, vehicle_id: IdPath, session: SessionDep, user: CurrentUser, uow: UowDep
) -> None:
    load_account(session, user, account_id)
    release(session)
    try:
        billing_port.remove_vehicle(uow, account_id, vehicle_id)
    except billing_port.NotFound as exc:
        raise CodedHTTPException(status.HTTP_404_NOT_FOUND, exc.code) from exc
    record(session, user, "vehicle.remove", "account", account_id, {"vehicle_id": vehicle_id})


@router.put("/accounts/{account_id}/auto-topup", response_model=AccountOut, responses=NO_ACCOUNT)
def set_auto_topup(
    account_id: AccountId, body: AutoTopUpIn, session: SessionDep, user: CurrentUser, uow: UowDep
) -> AccountOut:
    load_account(session, user, account_id)
    release(session)
    try:
        billing_port.set_auto_topup(
            uow,
            account_id,
            body.threshold_vnd if body.enabled else None,
            body.amount_vnd if body.enabled else None,
        )
    except billing_port.Rejected as exc:
        raise invalid(("body",), str(exc)) from exc
    record(session, user, "account.auto_topup", "account", account_id, body.model_dump())
    session.expire_all()
    return load_account(session, user, account_id)


class InvoicingIn(BaseModel):
    """Who the account's invoices are made out to, where they are emailed, and whether its
    passages go on one consolidated invoice a month (a company only)."""

    buyer: Literal["person", "company"]
    company_name: str | None = Field(default=None, min_length=1, max_length=200)
    tax_code: str | None = Field(
        default=None, pattern=r"^[0-9]{10}(-[0-9]{3})?$", description="10 digits, or 10-3"
    )
    address: str | None = Field(default=None, min_length=1, max_length=300)
    invoice_email: str | None = Field(
        default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200
    )
    monthly: bool = False

    @model_validator(mode="after")
    def _company_complete(self) -> InvoicingIn:
        named = (self.company_name or "").strip() and (self.address or "").strip()
        if self.buyer == "company" and not (named and self.tax_code):
            raise ValueError("a company needs company_name, tax_code and address")
        if self.monthly and self.buyer != "company":
            raise ValueError("the monthly invoice is made out to a company")
        return self


@router.put("/accounts/{account_id}/invoicing", response_model=AccountOut, responses=NO_ACCOUNT)
def set_invoicing(
    account_id: AccountId, body: InvoicingIn, session: SessionDep, user: CurrentUser, uow: UowDep
) -> AccountOut:
    """The invoice details the portal's settings page sets (``POST /portal/invoicing``)."""
    from billing.domain.model import DomainError, Owner, OwnerKind
    from billing.services import set_invoicing as save
    from gateway import messages

    current = load_account(session, user, account_id)
    release(session)
    try:
        if body.buyer == "company":
            assert body.company_name and body.tax_code and body.address  # the validator said so
            name, address = body.company_name.strip(), body.address.strip()
            owner = Owner(OwnerKind.BUSINESS, name, body.tax_code, address)
        else:
            owner = Owner(OwnerKind.PERSON, current.name)
        save(uow, account_id, owner, invoice_email=body.invoice_email, monthly=body.monthly)
    except DomainError as exc:  # the catalogue's words: billing's name the account
        raise invalid(("body",), messages.text(messages.code_of(exc), "en")) from exc
    record(session, user, "account.invoicing", "account", account_id, body.model_dump())
    session.expire_all()
    return load_account(session, user, account_id)


@router.get("/accounts/{account_id}/topups", response_model=Page[TopUpOut], responses=NO_ACCOUNT)
def list_topups(
    account_id: AccountId, session: SessionDep, user: CurrentUser, paging: PagingDep
) -> Page[TopUpOut]:
    load_account(session, user, account_id)
    window = queries.topups(session, account_id, paging.limit, paging.offset)
    return Page(
        items=[TopUpOut.model_validate(t) for t in window.items],
        total=window.total,
        limit=paging.limit,
        offset=paging.offset,
    )
