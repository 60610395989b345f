"""What settlement needs to know about a lot, read once and kept for a couple of seconds.

Every passage needs the lot's policy, tariff, gates and seller details; reading them per passage
costs a query and ORM objects. A change (policy, tariff, new gate) made through the services
of this unit of work is seen at once; a change made elsewhere within ``lot_cache_seconds``.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.model import InvoiceMode, Seller
from billing.domain.policy import LotPolicy


@dataclass(frozen=True)
class LotInfo:
    id: str
    name: str
    tariff_id: str
    policy: LotPolicy
    gates: frozenset[str]
    seller: Seller  # the operator, as its invoices name it


@functools.cache
def _q_lot() -> Select[Any]:
    lot, op = orm.table_of(orm.Lot).c, orm.table_of(orm.Operator).c
    return (
        select(
            lot.id,
            lot.name,
            lot.tariff_id,
            lot.policy,
            op.name.label("op_name"),
            op.tax_code,
            op.address,
            op.invoice_template,
            op.invoice_series,
            op.invoice_mode,
            op.cash_register_code,
        )
        .join_from(orm.table_of(orm.Lot), orm.table_of(orm.Operator), op.id == lot.operator_id)
        .where(lot.id == bindparam("lot"))
    )


@functools.cache
def _q_gates() -> Select[Any]:
    gates = orm.table_of(orm.Gate).c
    return select(gates.id).where(gates.lot_id == bindparam("lot"))


def lot_info(uow: UnitOfWork, lot_id: str, *, fresh: bool = False) -> LotInfo | None:
    """The lot as settlement sees it (call inside ``with uow``)."""
    cache: dict[str, tuple[float, LotInfo]] = uow.cache.setdefault("lots", {})
    now = time.monotonic()
    hit = cache.get(lot_id)
    if hit is not None and not fresh and now - hit[0] < uow.lot_cache_seconds:
        return hit[1]
    # Core, on the unit of work's connection: settlement runs without an ORM Session
    db = uow.connection
    row = db.execute(_q_lot(), {"lot": lot_id}).first()
    if row is None:
        cache.pop(lot_id, None)
        return None
    gates = frozenset(db.scalars(_q_gates(), {"lot": lot_id}))
    info = LotInfo(
        id=row.id,
        name=row.name,
        tariff_id=row.tariff_id,
        policy=LotPolicy.from_dict(row.policy),
        gates=gates,
        seller=Seller(
            name=row.op_name,
            tax_code=row.tax_code,
            address=row.address,
            invoice_template=row.invoice_template,
            invoice_series=row.invoice_series,
            invoice_mode=InvoiceMode(row.invoice_mode),
            cash_register_code=row.cash_register_code,
        ),
    )
    cache[lot_id] = (now, info)
    return info


def forget_lot(uow: UnitOfWork, lot_id: str | None = None) -> None:
    cache: dict[str, Any] = uow.cache.setdefault("lots", {})
    if lot_id is None:
        cache.clear()
    else:
        cache.pop(lot_id, None)
