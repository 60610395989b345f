"""Demo and test data: an operator, a central Hanoi lot, an airport-style lot, a few accounts.

The accounts' opening balances are operator credits (journal kind ``credit``, by "demo seed"):
no payment provider took that money, so it is not a top-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.model import AutoTopUp, InvoiceMode, Owner, OwnerKind, Seller
from billing.domain.policy import LotPolicy, Outcome
from billing.services.accounts import (
    add_gate,
    add_vehicle,
    create_account,
    create_lot,
    create_operator,
)
from billing.services.credits import manual_credit

DEMO_OPERATOR = "hanoi-parking"
CENTRAL_LOT = "hn-hoankiem-01"
AIRPORT_LOT = "hn-noibai-p1"


@dataclass(frozen=True)
class DemoData:
    operator_id: str
    lots: tuple[str, ...]
    gates: dict[str, tuple[str, str]]  # lot -> (entry gate, exit gate)
    accounts: dict[str, int]  # short name -> account id
    plates: dict[str, str]  # plate -> vehicle class


def seed_demo(uow: UnitOfWork) -> DemoData:
    """Create the demo world once; a second call returns the same ids without adding anything."""
    with uow:
        if uow.session.get(orm.Operator, DEMO_OPERATOR) is not None:
            return _existing(uow)
    create_operator(
        uow,
        DEMO_OPERATOR,
        Seller(
            name="Công ty TNHH Bãi đỗ xe Thông minh Hà Nội",
            tax_code="0109876543",
            address="12 Lý Thái Tổ, phường Hoàn Kiếm, Hà Nội",
            invoice_template="1",
            invoice_series="C26MPK",
            invoice_mode=InvoiceMode.CASH_REGISTER,
            cash_register_code="PK001",  # the 5 characters the authority assigns
        ),
    )
    create_lot(
        uow,
        CENTRAL_LOT,
        "Bãi xe Hoàn Kiếm - Lý Thái Tổ",
        DEMO_OPERATOR,
        "hn-central",
        address="Lý Thái Tổ, Hoàn Kiếm, Hà Nội",
        capacity=120,
        policy=LotPolicy(low_balance=Outcome.OVERDRAFT, overdraft_limit_vnd=50_000),
    )
    create_lot(
        uow,
        AIRPORT_LOT,
        "Sân bay Nội Bài - bãi P1",
        DEMO_OPERATOR,
        "airport",
        address="Sân bay Quốc tế Nội Bài, Sóc Sơn, Hà Nội",
        capacity=400,
        policy=LotPolicy(
            unknown_plate_entry=Outcome.OPEN_REVIEW, unknown_plate_exit=Outcome.OPEN_REVIEW
        ),
    )
    gates = {}
    for lot in (CENTRAL_LOT, AIRPORT_LOT):
        gates[lot] = (
            add_gate(uow, f"{lot}-in1", lot, "entry", "Làn vào 1"),
            add_gate(uow, f"{lot}-out1", lot, "exit", "Làn ra 1"),
        )
    people = [
        (
            "an",
            Owner(OwnerKind.PERSON, "Nguyễn Văn An", address="Ba Đình, Hà Nội"),
            500_000,
            [("30A-123.45", "car_le9"), ("29-B1 678.90", "motorbike")],
            None,
        ),
        (
            "binh",
            Owner(OwnerKind.PERSON, "Trần Thị Bình"),
            60_000,
            [("29-AA 123.45", "motorbike")],
            AutoTopUp(50_000, 200_000),  # the operator's default auto top-up provider
        ),
        (
            "logistics",
            Owner(
                OwnerKind.BUSINESS,
                "Công ty CP Vận tải Sông Hồng",
                "0101234567",
                "25 Nguyễn Văn Cừ, Long Biên, Hà Nội",
            ),
            5_000_000,
            [("29C-456.78", "car_gt9_truck"), ("30E-246.80", "car_le9")],
            None,
        ),
        (
            "cuong",
            Owner(OwnerKind.PERSON, "Lê Văn Cường"),
            10_000,
            [("30G-999.99", "car_le9")],
            None,
        ),
    ]
    accounts: dict[str, int] = {}
    plates: dict[str, str] = {}
    for short, owner, balance, vehicles, auto in people:
        acct = create_account(uow, owner, auto_topup=auto)
        accounts[short] = acct
        for plate, cls in vehicles:
            add_vehicle(uow, acct, plate, cls)
            plates[plate] = cls
        manual_credit(
            uow, acct, balance, key=f"seed-{short}", actor="demo seed", reason="opening balance"
        )
    return DemoData(DEMO_OPERATOR, (CENTRAL_LOT, AIRPORT_LOT), gates, accounts, plates)


def _existing(uow: UnitOfWork) -> DemoData:
    from sqlalchemy import select

    s = uow.session
    gates: dict[str, tuple[str, str]] = {}
    for lot in (CENTRAL_LOT, AIRPORT_LOT):
        rows = {
            g.direction: g.id for g in s.scalars(select(orm.Gate).where(orm.Gate.lot_id == lot))
        }
        gates[lot] = (rows["entry"], rows["exit"])
    accounts = {
        {
            "Nguyễn Văn An": "an",
            "Trần Thị Bình": "binh",
            "Công ty CP Vận tải Sông Hồng": "logistics",
            "Lê Văn Cường": "cuong",
        }.get(a.name, str(a.id)): a.id
        for a in s.scalars(select(orm.TransportAccount).order_by(orm.TransportAccount.id))
    }
    plates = {
        v.plate_text: v.vehicle_class
        for v in s.scalars(select(orm.Vehicle).where(orm.Vehicle.active.is_(True)))
    }
    return DemoData(DEMO_OPERATOR, (CENTRAL_LOT, AIRPORT_LOT), gates, accounts, plates)
