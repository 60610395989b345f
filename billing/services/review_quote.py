"""The fare a reviewed exit would be charged, for the operator's charge form (read-only).

The review page pre-fills the charge form with this quote so the operator confirms a known
amount rather than typing one. It prices exactly what ``review.charge`` would charge without an
amount: a stay closed at this exit has its fare; a car held at this barrier (its stay still
open) is priced by the tariff in force at entry up to the passage's time; a held flat-fare
exit keeps the fare the gate showed. Nothing is written: the unit of work is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.domain.model import DomainError
from billing.services.fares import price_session
from billing.services.lots import lot_info
from billing.services.review import _stay_of

DEFAULT_CLASS = "car_le9"  # what review.charge prices a held car of unknown class as


@dataclass(frozen=True)
class FareQuote:
    passage_id: int
    amount_vnd: int
    source: str  # "session" (priced at exit), "tariff" (held car, priced now), "gate"
    session_id: int | None
    tariff: str  # "<tariff id>@<version>" or ""


def quotes(uow: UnitOfWork, passage_ids: list[int]) -> dict[int, FareQuote]:
    """The fare to suggest for each of ``passage_ids`` that has one (one unit of work)."""
    found: dict[int, FareQuote] = {}
    with uow:
        try:
            for passage_id in passage_ids:
                q = _quote(uow, passage_id)
                if q is not None:
                    found[passage_id] = q
        finally:
            uow.session.rollback()
    return found


def quote(uow: UnitOfWork, passage_id: int) -> FareQuote | None:
    """The fare to suggest for ``passage_id``; None when there is nothing to quote (an entry,
    a stay that ended elsewhere, an exit without any stay or fare)."""
    return quotes(uow, [passage_id]).get(passage_id)


def _quote(uow: UnitOfWork, passage_id: int) -> FareQuote | None:
    passage = uow.session.scalar(select(orm.Passage).where(orm.Passage.id == passage_id))
    if passage is None or passage.direction != "exit":
        return None
    session = _stay_of(uow, passage)
    if session is None:  # a held flat-fare exit: the fare the gate showed
        has_fare = passage.session_id is None and bool(passage.fare_vnd)
        return FareQuote(passage.id, passage.fare_vnd or 0, "gate", None, "") if has_fare else None
    if session.status == "closed" and session.fare_vnd is not None:
        version = session.tariff_version or ""
        return FareQuote(passage.id, session.fare_vnd, "session", session.id, version)
    return _price_held(uow, passage, session)


def _price_held(
    uow: UnitOfWork, passage: orm.Passage, session: orm.ParkingSession
) -> FareQuote | None:
    """A car held at this barrier: its open stay priced up to the passage's time."""
    lot = lot_info(uow, passage.lot_id)
    if lot is None:
        return None
    try:
        fare = price_session(
            uow,
            lot,
            session,
            session.vehicle_class or DEFAULT_CLASS,
            passage.captured_at,
            passage.vehicle_id or session.vehicle_id,
        )
    except DomainError:
        return None  # no tariff in force, an unknown class: the operator types the amount
    version = f"{fare.tariff_id}@{fare.tariff_version}"
    return FareQuote(passage.id, fare.amount_vnd, "tariff", session.id, version)
