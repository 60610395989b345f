"""Accounts, vehicles, lots, gates and the lot operator: plain frozen values, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billing.domain.plates import canonical_plate, plate_key


class VehicleClass(StrEnum):
    MOTORBIKE = "motorbike"
    CAR_LE9 = "car_le9"  # car with up to 9 seats
    CAR_GT9_TRUCK = "car_gt9_truck"  # bus over 9 seats, van, truck


class PlateColour(StrEnum):
    WHITE = "white"  # private
    YELLOW = "yellow"  # commercial transport
    BLUE = "blue"  # state
    RED = "red"  # military


class OwnerKind(StrEnum):
    PERSON = "person"
    BUSINESS = "business"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class Direction(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class InvoiceMode(StrEnum):
    CASH_REGISTER = "cash_register"
    AUTHORITY_CODED = "authority_coded"


class GateStatus(StrEnum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


class DomainError(ValueError):
    """Input that breaks a business rule; the message is meant for an operator.

    ``code`` names the rule for the people's side, which shows its own words for it (the
    message may name accounts, which a customer must never read); ``"rule_broken"`` when no
    finer code applies.
    """

    def __init__(self, message: str, code: str = "rule_broken") -> None:
        super().__init__(message)
        self.code = code


_MST = re.compile(r"^[0-9]{10}(?:-[0-9]{3})?$")


def is_valid_tax_code(code: str) -> bool:
    """Vietnamese MST: 10 digits, or 13 with a branch suffix (``0101234567-001``)."""
    return bool(_MST.match(code))


@dataclass(frozen=True)
class Owner:
    kind: OwnerKind
    name: str
    tax_code: str | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise DomainError("owner name is empty", "name_required")
        if self.kind is OwnerKind.BUSINESS:
            if not self.tax_code or not is_valid_tax_code(self.tax_code):
                raise DomainError(
                    "a business needs a tax code (MST) of 10 or 13 digits", "tax_code_invalid"
                )
            if not self.address:
                raise DomainError("a business needs an address")
        elif self.tax_code is not None and not is_valid_tax_code(self.tax_code):
            raise DomainError(f"invalid tax code {self.tax_code!r}", "tax_code_invalid")


@dataclass(frozen=True)
class AutoTopUp:
    """Top up ``amount_vnd`` when the balance falls below ``threshold_vnd``."""

    threshold_vnd: int
    amount_vnd: int
    provider: str = "sim-autopay"

    def __post_init__(self) -> None:
        if self.amount_vnd <= 0 or self.threshold_vnd < 0:
            raise DomainError(
                "auto top-up needs a positive amount and a threshold >= 0", "auto_topup_invalid"
            )


def auto_topup_amount(
    balance_vnd: int, threshold_vnd: int, step_vnd: int, need_vnd: int = 0
) -> int:
    """What an auto top-up asks for: whole multiples of ``step_vnd`` that bring the balance,
    once ``need_vnd`` (a fare still to pay) is taken off it, back to the threshold; 0 when the
    balance is not below it."""
    if step_vnd <= 0:
        raise DomainError("auto top-up step must be positive")
    short = threshold_vnd + need_vnd - balance_vnd
    return 0 if short <= 0 else -(-short // step_vnd) * step_vnd


@dataclass(frozen=True)
class Account:
    id: int
    owner: Owner
    status: AccountStatus
    balance_vnd: int
    auto_topup: AutoTopUp | None = None
    low_balance_notice_vnd: int = 50_000


@dataclass(frozen=True)
class Vehicle:
    plate: str
    vehicle_class: VehicleClass
    colour: PlateColour = PlateColour.WHITE
    account_id: int | None = None
    id: int | None = None
    active: bool = True

    @property
    def key(self) -> str:
        return plate_key(self.plate)

    @staticmethod
    def register(
        plate_text: str,
        vehicle_class: VehicleClass | str,
        colour: PlateColour | str = PlateColour.WHITE,
        account_id: int | None = None,
    ) -> Vehicle:
        plate = canonical_plate(plate_text)
        if plate is None:
            raise DomainError(f"{plate_text!r} is not a valid Vietnamese plate", "plate_invalid")
        return Vehicle(plate, VehicleClass(vehicle_class), PlateColour(colour), account_id)


def check_plate_free(key: str, active_owner_of_key: int | None, account_id: int) -> None:
    """A plate belongs to at most one active account."""
    if active_owner_of_key is not None and active_owner_of_key != account_id:
        raise DomainError(
            f"plate {key} already belongs to account {active_owner_of_key}", "plate_taken"
        )


@dataclass(frozen=True)
class Seller:
    """The lot operator as it appears on invoices (see contracts.md, invoice_request.seller)."""

    name: str
    tax_code: str
    address: str
    invoice_template: str = "1"
    invoice_series: str = "C26TPK"
    invoice_mode: InvoiceMode = InvoiceMode.CASH_REGISTER
    cash_register_code: str | None = None

    def __post_init__(self) -> None:
        if not is_valid_tax_code(self.tax_code):
            raise DomainError(f"operator tax code {self.tax_code!r} is not a valid MST")

    def as_payload(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "tax_code": self.tax_code,
            "address": self.address,
            "invoice_template": self.invoice_template,
            "invoice_series": self.invoice_series,
            "invoice_mode": self.invoice_mode.value,
            "cash_register_code": self.cash_register_code,
        }


@dataclass(frozen=True)
class Gate:
    id: str
    lot_id: str
    direction: Direction
    name: str = ""
    status: GateStatus = GateStatus.UNKNOWN
    status_at: datetime | None = None


@dataclass(frozen=True)
class Lot:
    id: str
    name: str
    operator_id: str
    tariff_id: str
    address: str = ""
    capacity: int = 0
