"""Billing's pure core: accounts, vehicles, tariffs, policies, decisions, ledger postings.

Imports nothing of the project and does no I/O; the services and adapters build on it.
"""

from billing.domain.decisions import GateDecision, PassageInput, Reason
from billing.domain.ledger import IdempotencyConflict
from billing.domain.model import (
    Account,
    AccountStatus,
    Direction,
    DomainError,
    GateStatus,
    InvoiceMode,
    Owner,
    OwnerKind,
    PlateColour,
    Seller,
    Vehicle,
    VehicleClass,
)
from billing.domain.plates import canonical_plate, is_valid_plate, plate_key
from billing.domain.policy import LotPolicy, Outcome

__all__ = [
    "Account",
    "AccountStatus",
    "Direction",
    "DomainError",
    "GateDecision",
    "GateStatus",
    "IdempotencyConflict",
    "InvoiceMode",
    "LotPolicy",
    "Outcome",
    "Owner",
    "OwnerKind",
    "PassageInput",
    "PlateColour",
    "Reason",
    "Seller",
    "Vehicle",
    "VehicleClass",
    "canonical_plate",
    "is_valid_plate",
    "plate_key",
]
