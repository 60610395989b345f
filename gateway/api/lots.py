"""Lots and their gates (with the last-will status each gate reported), and tariff versions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from gateway.api import queries
from gateway.api.access import AccessFirstRoute, LotId
from gateway.api.schemas import AUTH_ERRORS, invalid, not_found
from gateway.auth.audit import record
from gateway.deps import AdminUser, CurrentUser, OperatorUser, SessionDep, UowDep, release

router = APIRouter(tags=["lots"], responses=AUTH_ERRORS, route_class=AccessFirstRoute)
NO_LOT = not_found("no such lot")


class GateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    lot_id: str
    direction: str
    name: str
    status: str
    status_at: datetime | None


class LotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    address: str
    operator_id: str
    tariff_id: str
    capacity: int
    occupied: int = 0
    gates: list[GateOut] = []


class BlockOut(BaseModel):
    minutes: int
    price_vnd: int
    count: int | None


class ClassTariffOut(BaseModel):
    vehicle_class: str
    grace_minutes: int
    blocks: list[BlockOut]
    per_turn: dict[str, Any] | None
    daily_cap_vnd: int | None
    passes: dict[str, int]


class TariffVersionOut(BaseModel):
    id: str
    version: str
    name: str
    valid_from: date
    valid_until: date | None
    timezone: str
    # The VAT rate its prices include, from the day it applies (today, if in force): the law's
    # rate by date (billing.domain.vat), the one invoices and the ledger use.
    vat_percent: int
    vat_source: str
    vat_valid_until: date | None
    holiday_surcharge_percent: int
    holidays: list[date]
    classes: list[ClassTariffOut]
    in_force: bool


def _lot_out(session: SessionDep, lot: Any) -> LotOut:
    out = LotOut.model_validate(lot)
    out.gates = [GateOut.model_validate(g) for g in queries.gates(session, [lot.id])]
    out.occupied = queries.occupancy_now(session, [lot.id])[lot.id]
    return out


@router.get("/lots", response_model=list[LotOut])
def list_lots(session: SessionDep, user: OperatorUser) -> list[LotOut]:
    """The lots this operator may see (all of them for an admin)."""
    return [_lot_out(session, lot) for lot in queries.visible_lots(session, user)]


@router.get("/lots/{lot_id}", response_model=LotOut, responses=NO_LOT)
def get_lot(lot_id: LotId, session: SessionDep) -> LotOut:
    lot = queries.lot(session, lot_id)
    if lot is None:  # removed since the access check
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no lot {lot_id}")
    return _lot_out(session, lot)


class LotTariffIn(BaseModel):
    tariff_id: str = Field(min_length=1, max_length=40)


@router.put(
    "/lots/{lot_id}/tariff",
    response_model=LotOut,
    responses={**NO_LOT, 422: {"description": "unknown tariff, or a malformed body"}},
)
def set_lot_tariff(
    lot_id: LotId, admin: AdminUser, body: LotTariffIn, session: SessionDep, uow: UowDep
) -> LotOut:
    """Point a lot at another tariff; which version applies still follows the validity dates."""
    from billing.domain.model import DomainError
    from billing.services import set_lot_tariff as assign

    release(session)
    try:
        assign(uow, lot_id, body.tariff_id)
    except DomainError as exc:
        raise invalid(("body", "tariff_id"), str(exc)) from exc
    record(session, admin, "lot.tariff", "lot", lot_id, {"tariff_id": body.tariff_id})
    session.expire_all()
    return get_lot(lot_id, session)


@router.get("/lots/{lot_id}/gates", response_model=list[GateOut], responses=NO_LOT)
def list_gates(lot_id: LotId, session: SessionDep) -> list[GateOut]:
    return get_lot(lot_id, session).gates


def tariff_versions(tariff_id: str | None = None) -> list[TariffVersionOut]:
    from datetime import UTC

    from billing.domain.tariffs import local_zone
    from billing.tariffs import load_catalog

    catalog = load_catalog()
    now = datetime.now(UTC)
    out = []
    for tid in catalog.ids():
        if tariff_id is not None and tid != tariff_id:
            continue
        try:
            current = catalog.in_force(tid, now).version
        except ValueError:
            current = None
        for t in catalog.versions(tid):
            vat = t.vat_rate(now.astimezone(local_zone(t.timezone)).date())
            out.append(
                TariffVersionOut(
                    id=t.id,
                    version=t.version,
                    name=t.name,
                    valid_from=t.valid_from,
                    valid_until=t.valid_until,
                    timezone=t.timezone,
                    vat_percent=vat.percent,
                    vat_source=vat.source,
                    vat_valid_until=vat.valid_to,
                    holiday_surcharge_percent=t.holiday_surcharge_percent,
                    holidays=sorted(t.holidays),
                    classes=[
                        ClassTariffOut(
                            vehicle_class=name,
                            grace_minutes=ct.grace_minutes,
                            blocks=[
                                BlockOut(minutes=r.minutes, price_vnd=r.price_vnd, count=r.count)
                                for r in ct.blocks
                            ],
                            per_turn=None
                            if ct.per_turn is None
                            else {
                                "day_vnd": ct.per_turn.day_vnd,
                                "night_vnd": ct.per_turn.night_vnd,
                                "day_starts": ct.per_turn.day_starts.isoformat("minutes"),
                                "night_starts": ct.per_turn.night_starts.isoformat("minutes"),
                            },
                            daily_cap_vnd=ct.daily_cap_vnd,
                            passes=dict(ct.passes),
                        )
                        for name, ct in t.classes.items()
                    ],
                    in_force=t.version == current,
                )
            )
    return out


@router.get("/tariffs", response_model=list[TariffVersionOut])
def list_tariffs(user: CurrentUser, tariff_id: str | None = None) -> list[TariffVersionOut]:
    """Every version of every tariff, with validity dates (public prices: any signed-in user)."""
    return tariff_versions(tariff_id)


@router.get(
    "/tariffs/{tariff_id}",
    response_model=list[TariffVersionOut],
    responses=not_found("no such tariff"),
)
def get_tariff(tariff_id: str, user: CurrentUser) -> list[TariffVersionOut]:
    found = tariff_versions(tariff_id)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no tariff {tariff_id}")
    return found
