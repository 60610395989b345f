"""Operators, lots, gates, transport accounts and vehicles: what an operator sets up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.ledger import VAT_PAYABLE, prepaid_account, revenue_account
from billing.domain.model import (
    AccountStatus,
    AutoTopUp,
    Direction,
    DomainError,
    GateStatus,
    Owner,
    OwnerKind,
    Seller,
    Vehicle,
    check_plate_free,
)
from billing.domain.policy import LotPolicy
from billing.services.ledger import ensure_ledger_account
from billing.services.lots import forget_lot


def create_operator(uow: UnitOfWork, operator_id: str, seller: Seller) -> str:
    with uow:
        if uow.session.get(orm.Operator, operator_id) is not None:
            raise DomainError(f"operator {operator_id} exists")
        uow.session.add(
            orm.Operator(
                id=operator_id,
                name=seller.name,
                tax_code=seller.tax_code,
                address=seller.address,
                invoice_template=seller.invoice_template,
                invoice_series=seller.invoice_series,
                invoice_mode=seller.invoice_mode.value,
                cash_register_code=seller.cash_register_code,
            )
        )
        uow.commit()
    return operator_id


def create_lot(
    uow: UnitOfWork,
    lot_id: str,
    name: str,
    operator_id: str,
    tariff_id: str,
    *,
    address: str = "",
    capacity: int = 0,
    policy: LotPolicy | None = None,
) -> str:
    if tariff_id not in uow.tariffs.ids():
        raise DomainError(f"no tariff {tariff_id!r}; known: {', '.join(uow.tariffs.ids())}")
    with uow:
        if uow.session.get(orm.Operator, operator_id) is None:
            raise DomainError(f"no operator {operator_id}")
        if uow.session.get(orm.Lot, lot_id) is not None:
            raise DomainError(f"lot {lot_id} exists")
        uow.session.add(
            orm.Lot(
                id=lot_id,
                name=name,
                address=address,
                operator_id=operator_id,
                tariff_id=tariff_id,
                capacity=capacity,
                policy=(policy or LotPolicy()).to_dict(),
            )
        )
        uow.session.flush()
        ensure_ledger_account(uow.session, revenue_account(lot_id), f"Revenue of lot {name}")
        ensure_ledger_account(uow.session, VAT_PAYABLE, "VAT payable")
        uow.commit()
    return lot_id


def set_lot_policy(uow: UnitOfWork, lot_id: str, **changes: Any) -> LotPolicy:
    """Change some policy fields of a lot; the whole policy is validated before it is stored."""
    with uow:
        lot = uow.session.get(orm.Lot, lot_id)
        if lot is None:
            raise DomainError(f"no lot {lot_id}")
        policy = LotPolicy.from_dict(lot.policy).with_changes(**changes)
        lot.policy = policy.to_dict()
        uow.commit()
    forget_lot(uow, lot_id)
    return policy


def set_lot_tariff(uow: UnitOfWork, lot_id: str, tariff_id: str) -> None:
    if tariff_id not in uow.tariffs.ids():
        raise DomainError(f"no tariff {tariff_id!r}")
    with uow:
        lot = uow.session.get(orm.Lot, lot_id)
        if lot is None:
            raise DomainError(f"no lot {lot_id}")
        lot.tariff_id = tariff_id
        uow.commit()
    forget_lot(uow, lot_id)


def add_gate(uow: UnitOfWork, gate_id: str, lot_id: str, direction: str, name: str = "") -> str:
    Direction(direction)
    with uow:
        if uow.session.get(orm.Lot, lot_id) is None:
            raise DomainError(f"no lot {lot_id}")
        uow.session.add(
            orm.Gate(
                id=gate_id,
                lot_id=lot_id,
                direction=direction,
                name=name or gate_id,
                status=GateStatus.UNKNOWN.value,
            )
        )
        uow.commit()
    return gate_id


def record_gate_status(uow: UnitOfWork, gate_id: str, status: str, at: datetime) -> bool:
    """Remember a gate's last online/offline report; an older report never wins.

    Returns False (and changes nothing) for a report older than the one stored.
    """
    value = GateStatus(status)
    if at.tzinfo is None:
        raise DomainError("gate status time must be timezone-aware")
    with uow:
        gate = uow.session.scalar(select(orm.Gate).where(orm.Gate.id == gate_id).with_for_update())
        if gate is None:
            raise DomainError(f"no gate {gate_id}")
        if gate.status_at is not None and gate.status_at > at:
            return False
        gate.status, gate.status_at = value.value, at
        uow.commit()
    return True


def create_account(
    uow: UnitOfWork,
    owner: Owner,
    *,
    phone: str | None = None,
    email: str | None = None,
    auto_topup: AutoTopUp | None = None,
    low_balance_notice_vnd: int = 50_000,
) -> int:
    with uow:
        acct = orm.TransportAccount(
            kind=owner.kind.value,
            name=owner.name,
            tax_code=owner.tax_code,
            address=owner.address,
            phone=phone,
            email=email,
            status=AccountStatus.ACTIVE.value,
            balance_vnd=0,
            auto_topup_threshold_vnd=auto_topup.threshold_vnd if auto_topup else None,
            auto_topup_amount_vnd=auto_topup.amount_vnd if auto_topup else None,
            auto_topup_provider=auto_topup.provider if auto_topup else None,
            low_balance_notice_vnd=low_balance_notice_vnd,
        )
        uow.session.add(acct)
        uow.session.flush()
        ensure_ledger_account(
            uow.session,
            prepaid_account(acct.id),
            f"Prepaid balance of transport account {acct.id} ({owner.name})",
        )
        uow.commit()
        return acct.id


def set_auto_topup(uow: UnitOfWork, account_id: int, auto_topup: AutoTopUp | None) -> None:
    with uow:
        acct = _account(uow, account_id)
        acct.auto_topup_threshold_vnd = auto_topup.threshold_vnd if auto_topup else None
        acct.auto_topup_amount_vnd = auto_topup.amount_vnd if auto_topup else None
        acct.auto_topup_provider = auto_topup.provider if auto_topup else None
        uow.commit()


def set_contacts(uow: UnitOfWork, account_id: int, *, phone: str | None, email: str | None) -> None:
    """Where the account's notices go (the caller checks the formats it accepts)."""
    with uow:
        acct = _account(uow, account_id)
        acct.phone = phone or None
        acct.email = email or None
        uow.commit()


def set_invoicing(
    uow: UnitOfWork,
    account_id: int,
    owner: Owner,
    *,
    invoice_email: str | None,
    monthly: bool,
) -> None:
    """Who the account's invoices are made out to (a company: name, tax code and address, each
    checked by :class:`Owner`), where they are emailed, and whether its passages go on one
    consolidated invoice per month. Invoices already requested keep the buyer they named."""
    if invoice_email is not None and ("@" not in invoice_email or len(invoice_email) > 200):
        raise DomainError("the invoice email is not an email address", "email_invalid")
    if monthly and owner.kind is not OwnerKind.BUSINESS:
        raise DomainError("a monthly invoice is made out to a company", "monthly_needs_company")
    with uow:
        acct = _account(uow, account_id)
        if acct.status == AccountStatus.CLOSED.value:
            raise DomainError(f"account {account_id} is closed", "account_closed")
        acct.kind, acct.name = owner.kind.value, owner.name
        acct.tax_code, acct.address = owner.tax_code, owner.address
        acct.invoice_email = invoice_email or None
        acct.invoice_monthly = monthly
        uow.commit()


def set_low_balance_notice(uow: UnitOfWork, account_id: int, level_vnd: int) -> None:
    if level_vnd < 0:
        raise DomainError("notice level cannot be negative")
    with uow:
        _account(uow, account_id).low_balance_notice_vnd = level_vnd
        uow.commit()


def set_account_status(uow: UnitOfWork, account_id: int, status: str) -> None:
    value = AccountStatus(status)
    with uow:
        acct = _account(uow, account_id)
        acct.status = value.value
        if value is AccountStatus.CLOSED:
            for v in uow.session.scalars(
                select(orm.Vehicle).where(orm.Vehicle.account_id == account_id)
            ):
                v.active = False
        uow.commit()


def add_vehicle(
    uow: UnitOfWork, account_id: int, plate_text: str, vehicle_class: str, colour: str = "white"
) -> int:
    """Register a plate on an account; a plate belongs to at most one active account."""
    vehicle = Vehicle.register(plate_text, vehicle_class, colour, account_id)
    with uow:
        acct = _account(uow, account_id)
        if acct.status == AccountStatus.CLOSED.value:
            raise DomainError(f"account {account_id} is closed", "account_closed")
        owner = uow.session.scalar(
            select(orm.Vehicle.account_id).where(
                orm.Vehicle.plate_key == vehicle.key, orm.Vehicle.active.is_(True)
            )
        )
        check_plate_free(vehicle.key, owner, account_id)
        if owner == account_id:
            raise DomainError(
                f"plate {vehicle.plate} is already on account {account_id}", "plate_already_yours"
            )
        row = orm.Vehicle(
            account_id=account_id,
            plate_text=vehicle.plate,
            plate_key=vehicle.key,
            vehicle_class=vehicle.vehicle_class.value,
            plate_colour=vehicle.colour.value,
            active=True,
        )
        uow.session.add(row)
        try:
            uow.session.flush()
        except IntegrityError:
            raise DomainError(
                f"plate {vehicle.plate} was just registered elsewhere", "plate_taken"
            ) from None
        uow.commit()
        return row.id


def remove_vehicle(uow: UnitOfWork, vehicle_id: int) -> None:
    """Deactivate (never delete: passages and sessions refer to it)."""
    with uow:
        row = uow.session.get(orm.Vehicle, vehicle_id)
        if row is None:
            raise DomainError(f"no vehicle {vehicle_id}")
        row.active = False
        uow.commit()


def _account(uow: UnitOfWork, account_id: int) -> orm.TransportAccount:
    acct = uow.session.get(orm.TransportAccount, account_id)
    if acct is None:
        raise DomainError(f"no transport account {account_id}")
    return acct
