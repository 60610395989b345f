"""What settlement needs to know about a lot, read once and kept for a couple of seconds.

Every passage needs the lot's policy, tariff, gates and seller details; reading them per passage
costs a query and ORM objects. A change (policy, tariff, new gate) made through the services
of this unit of work is seen at once; a change made elsewhere within ``lot_cache_seconds``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

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


def lot_info(uow: UnitOfWork, lot_id: str, *, fresh: bool = False) -> LotInfo | None:
    """The lot as settlement sees it (call inside ``with uow``)."""
    cache: dict[str, tuple[float, LotInfo]] = uow.cache.setdefault("lots", {})
    now = time.monotonic()
    hit = cache.get(lot_id)
    if hit is not None and not fresh and now - hit[0] < uow.lot_cache_seconds:
        return hit[1]
    row = uow.session.execute(
        select(orm.Lot, orm.Operator)
        .join(orm.Operator, orm.Operator.id == orm.Lot.operator_id)
        .where(orm.Lot.id == lot_id)
    ).first()
    if row is None:
        cache.pop(lot_id, None)
        return None
    lot, op = row
    gates = frozenset(uow.session.scalars(select(orm.Gate.id).where(orm.Gate.lot_id == lot_id)))
    info = LotInfo(
        id=lot.id,
        name=lot.name,
        tariff_id=lot.tariff_id,
        policy=LotPolicy.from_dict(lot.policy),
        gates=gates,
        seller=Seller(
            name=op.name,
            tax_code=op.tax_code,
            address=op.address,
            invoice_template=op.invoice_template,
            invoice_series=op.invoice_series,
            invoice_mode=InvoiceMode(op.invoice_mode),
            cash_register_code=op.cash_register_code,
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
