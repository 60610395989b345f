"""Plates, owners, vehicles and policies: the pure domain rules."""

from __future__ import annotations

import pytest

from billing.domain.decisions import GateDecision, Reason, display_text, vnd
from billing.domain.model import (
    AutoTopUp,
    DomainError,
    Owner,
    OwnerKind,
    Seller,
    Vehicle,
    check_plate_free,
    is_valid_tax_code,
)
from billing.domain.plates import canonical_plate, is_valid_plate, plate_key
from billing.domain.policy import LotPolicy, Outcome, debit_allowed, plate_readable


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("30A-123.45", "30A-123.45"),
        (" 30a-123.45 ", "30A-123.45"),
        ("30A12345", "30A-123.45"),
        ("29A-1234", "29A-1234"),
        ("30A 123.45", "30A 123.45"),  # square car plate stays two lines
        ("29-B1 678.90", "29-B1 678.90"),
        ("29B167890", "29-B1 678.90"),
        ("29-AA 123.45", "29-AA 123.45"),
        ("29-MĐ1 234.56", "29-MD1 234.56"),
        ("51-R5 6273", "51-R5 6273"),
        ("51LD-123.45", "51LD-123.45"),
    ],
)
def test_canonical_plates(raw: str, canonical: str) -> None:
    assert canonical_plate(raw) == canonical
    assert is_valid_plate(canonical)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "hello",
        "30I-123.45",
        "30O-123.45",
        "10A-123.45",
        "3OA-I23.45",
        "30AAA-123.45",
    ],
)
def test_invalid_plates_are_not_guessed(raw: str) -> None:
    assert canonical_plate(raw) is None


def test_long_and_square_plates_share_a_key() -> None:
    assert plate_key("30A-123.45") == plate_key("30A 123.45") == "30A12345"


def test_owners_and_tax_codes() -> None:
    assert is_valid_tax_code("0101234567") and is_valid_tax_code("0101234567-001")
    assert not is_valid_tax_code("12345")
    with pytest.raises(DomainError, match="tax code"):
        Owner(OwnerKind.BUSINESS, "Công ty A", None, "Hà Nội")
    with pytest.raises(DomainError, match="address"):
        Owner(OwnerKind.BUSINESS, "Công ty A", "0101234567", None)
    with pytest.raises(DomainError, match="empty"):
        Owner(OwnerKind.PERSON, " ")
    with pytest.raises(DomainError):
        Seller("X", "123", "addr")
    with pytest.raises(DomainError):
        AutoTopUp(threshold_vnd=10_000, amount_vnd=0)


def test_vehicle_registration_and_plate_ownership() -> None:
    v = Vehicle.register("30a12345", "car_le9", "yellow", account_id=3)
    assert (v.plate, v.key, v.colour.value) == ("30A-123.45", "30A12345", "yellow")
    with pytest.raises(DomainError, match="not a valid"):
        Vehicle.register("ABC", "car_le9")
    with pytest.raises(ValueError):
        Vehicle.register("30A-123.45", "tank")
    check_plate_free("30A12345", None, 3)
    check_plate_free("30A12345", 3, 3)
    with pytest.raises(DomainError, match="already belongs"):
        check_plate_free("30A12345", 4, 3)


def test_policy_is_validated_data() -> None:
    p = LotPolicy.from_dict({"low_balance": "overdraft", "overdraft_limit_vnd": 20_000})
    assert p.low_balance is Outcome.OVERDRAFT
    assert LotPolicy.from_dict(p.to_dict()) == p
    with pytest.raises(DomainError, match="unknown_plate_exit=allow"):
        LotPolicy(unknown_plate_exit="allow")  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="between 0 and 1"):
        LotPolicy(min_plate_confidence=1.5)
    with pytest.raises(DomainError, match="negative"):
        LotPolicy(overdraft_limit_vnd=-1)


def test_debit_floor_follows_the_low_balance_policy() -> None:
    deny = LotPolicy(low_balance=Outcome.DENY, overdraft_limit_vnd=50_000)
    overdraft = LotPolicy(low_balance=Outcome.OVERDRAFT, overdraft_limit_vnd=50_000)
    assert debit_allowed(deny, 25_000, 25_000) and not debit_allowed(deny, 24_999, 25_000)
    assert debit_allowed(overdraft, -25_000, 25_000)
    assert not debit_allowed(overdraft, -25_001, 25_000)


def test_plate_readable_needs_syntax_confidence_and_no_flag() -> None:
    p = LotPolicy(min_plate_confidence=0.8)
    assert plate_readable(p, "30A-123.45", 0.8, False)
    assert not plate_readable(p, "30A-123.45", 0.79, False)
    assert not plate_readable(p, "30A-123.45", 0.99, True)
    assert not plate_readable(p, None, 0.99, False)


def test_gate_display_and_decision_round_trip() -> None:
    assert vnd(1_234_567) == "1.234.567đ" and vnd(-15_000) == "-15.000đ"
    text = display_text(Reason.EXIT_PAID, "30A-123.45", 25_000, 475_000)
    assert "25.000đ" in text and "475.000đ" in text
    d = GateDecision(True, "exit_paid", text, "30A-123.45", 25_000, 475_000, 7, 9, False)
    assert GateDecision.from_dict(d.to_dict()) == d
