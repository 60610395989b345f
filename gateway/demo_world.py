"""The demo's population: billing's seed data plus enough drivers to make traffic interesting.

Registered drivers have money; low-balance drivers have a few thousand đồng (the lot's policy
decides: overdraft, or keep the barrier closed); unknown plates have no account at all. Made
once per database, through billing's own services, so the ledger stays balanced. Their opening
balances are operator credits (journal kind ``credit``, by "demo"), not top-ups: no payment
provider took that money, and reconciliation would rightly say so.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.model import Owner, OwnerKind
from billing.services import DemoData, add_vehicle, create_account, manual_credit, seed_demo
from simulator.plates import fleet

FIRST = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô")
MIDDLE = ("Văn", "Thị", "Minh", "Đức", "Thu", "Quang", "Ngọc", "Hữu")
LAST = ("An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hùng", "Lan", "Mai", "Nam", "Phúc", "Sơn")
MARKER = "demo-traffic"
#: Share of the demo's plates that have a near-twin among them.
TWIN_SHARE = 0.15
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Population:
    seed: DemoData
    registered: tuple[str, ...]
    low_balance: tuple[str, ...]
    unknown: tuple[str, ...]
    motorbikes: frozenset[str]


def _vehicle_class(layout: str) -> str:
    return "motorbike" if layout == "motorbike" else "car_le9"


def ensure_population(
    uow: UnitOfWork, *, registered: int = 40, low_balance: int = 6, unknown: int = 8, seed: int = 11
) -> Population:
    data = seed_demo(uow)
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    with uow:
        existing = uow.session.scalar(
            select(orm.TransportAccount.id).where(orm.TransportAccount.email == f"0@{MARKER}")
        )
    # Near-twins (one confusable character apart: 59-K1 / 59-X1) come in pairs, as on real
    # roads, so matching a read against the cars inside meets them.
    wanted = registered + low_balance + unknown
    specs = [
        s for s in fleet(rng, wanted + len(data.plates), TWIN_SHARE) if s.text not in data.plates
    ]
    specs = specs[:wanted]
    if existing is None:
        for i, spec in enumerate(specs[: registered + low_balance]):
            name = f"{pick.choice(FIRST)} {pick.choice(MIDDLE)} {pick.choice(LAST)}"
            acct = create_account(uow, Owner(OwnerKind.PERSON, name), email=f"{i}@{MARKER}")
            add_vehicle(uow, acct, spec.text, _vehicle_class(spec.layout))
            amount = pick.randrange(200, 2000) * 1000 if i < registered else 3_000
            manual_credit(
                uow, acct, amount, key=f"{MARKER}-{i}", actor="demo", reason="opening balance"
            )
    seeded_low = {p for p in data.plates if p == "30G-999.99"}
    return Population(
        seed=data,
        registered=tuple(p for p in data.plates if p not in seeded_low)
        + tuple(s.text for s in specs[:registered]),
        low_balance=tuple(seeded_low)
        + tuple(s.text for s in specs[registered : registered + low_balance]),
        unknown=tuple(s.text for s in specs[registered + low_balance :]),
        motorbikes=frozenset(
            [p for p, c in data.plates.items() if c == "motorbike"]
            + [s.text for s in specs if s.layout == "motorbike"]
        ),
    )


def seller_of(uow: UnitOfWork, operator_id: str) -> orm.Operator:
    """The operator who sells the parking; a cash-register code must be 5 characters A-Z0-9."""
    with uow:
        op = uow.session.get(orm.Operator, operator_id)
        if op is None:
            raise LookupError(f"no operator {operator_id}")
        code = op.cash_register_code
        if op.invoice_mode == "cash_register" and not (code and len(code) == 5 and code.isalnum()):
            # The authority assigns 5 characters (they go into the 23-character MCCQT); a seed
            # with another shape could never invoice, so the demo registers a valid one.
            fixed = "".join(ch for ch in (code or "") if ch.isalnum()).upper()[-5:].rjust(5, "0")
            log.warning("operator %s: cash-register code %r -> %r", operator_id, code, fixed)
            op.cash_register_code = fixed
            uow.commit()
        uow.session.expunge(op)
        return op
