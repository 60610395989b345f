"""Monthly passes: sold from the prepaid balance, invoiced like every other sale.

A sale posts revenue (journal kind ``pass``) and writes an ``invoice_request`` in the same
transaction, like a paid exit: every sale needs its e-invoice. Its event id is
``pass:<request key>``; the request carries an ``item`` (what was sold, named here in
Vietnamese) in place of a stay's entry and exit times (docs/contracts.md).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.adapters import orm, outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.events import InvoiceRequested, SaleItem
from billing.domain.ledger import IdempotencyConflict, fare_posting
from billing.domain.model import DomainError
from billing.domain.vat import VatRate, rate_on, split_inclusive
from billing.services.fares import invoice_buyer
from billing.services.ledger import lock_account, post
from billing.services.lots import LotInfo, lot_info
from billing.services.reads import LOCAL

MAX_KEY = 75  # the event id "pass:<key>" fits the 80 characters of an event id
CLASS_NAMES = {
    "motorbike": "xe máy",
    "car_le9": "ô tô đến 9 chỗ",
    "car_gt9_truck": "ô tô trên 9 chỗ, xe tải",
}
KIND_NAMES = {"day": "ban ngày", "day_night": "ngày và đêm"}


@dataclass(frozen=True)
class PassView:
    id: int
    vehicle_id: int
    plate: str
    account_id: int
    lot_id: str
    kind: str
    valid_from: date
    valid_until: date
    price_vnd: int
    journal_entry_id: int | None


def month_end(start: date) -> date:
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def pass_event_id(key: str) -> str:
    return f"pass:{key}"


def pass_valid_until(start: date) -> date:
    """A pass from the 1st runs to the month's end; from any other day, for 30 more days."""
    return month_end(start) if start.day == 1 else start + timedelta(days=30)


def buy_monthly_pass(
    uow: UnitOfWork, vehicle_id: int, lot_id: str, kind: str, start: date, key: str
) -> int:
    """Sell a monthly pass from the prepaid balance: one calendar month from ``start``.

    ``key``: the caller's id of this sale (a request id): a retry returns the first pass.
    """
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY:
        raise DomainError(f"a pass sale needs its request id (1-{MAX_KEY} characters)")
    event_id = pass_event_id(key)
    with uow:
        s = uow.session
        vehicle = s.get(orm.Vehicle, vehicle_id)
        lot = lot_info(uow, lot_id, fresh=True)
        if vehicle is None or not vehicle.active or lot is None:
            raise DomainError("unknown vehicle or lot")
        prior_id = _prior_sale(s, event_id, key, (vehicle.id, lot_id, kind, start))
        if prior_id is not None:
            return prior_id
        price = _pass_price(uow, lot, vehicle.vehicle_class, kind, start)
        acct = lock_account(s, vehicle.account_id)
        if acct.balance_vnd < price:
            raise DomainError(f"balance {acct.balance_vnd} VND is below the pass price {price}")
        rate = rate_on(datetime.now(LOCAL).date())  # the VAT of the day of the sale
        posting = fare_posting(
            event_id,
            acct.id,
            lot_id,
            price,
            split_inclusive(price, rate.percent).vat,
            f"monthly {kind} pass {vehicle.plate_text}",
            kind="pass",
        )
        posted = post(s, posting, account=acct, lot_id=lot_id, event_id=event_id)
        row = orm.MonthlyPass(
            vehicle_id=vehicle.id,
            lot_id=lot_id,
            kind=kind,
            valid_from=start,
            valid_until=pass_valid_until(start),
            price_vnd=price,
            journal_entry_id=posted.entry_id,
        )
        s.add(row)
        s.flush()
        outbox.add(s, _invoice_request(event_id, posted.entry_id, lot, vehicle, acct, row, rate))
        uow.commit()
        return row.id


def _invoice_request(
    event_id: str,
    journal_entry_id: int,
    lot: LotInfo,
    vehicle: orm.Vehicle,
    acct: orm.TransportAccount,
    row: orm.MonthlyPass,
    rate: VatRate,
) -> InvoiceRequested:
    """The sale's invoice request: the pass as the invoice's one line, at the day's VAT."""
    return InvoiceRequested(
        event_id=event_id,
        journal_entry_id=journal_entry_id,
        lot_id=lot.id,
        lot_name=lot.name,
        plate=vehicle.plate_text,
        vehicle_class=vehicle.vehicle_class,
        fare_vnd=row.price_vnd,
        vat_percent=rate.percent,
        seller=lot.seller,
        buyer=invoice_buyer(acct),
        pass_id=row.id,
        item=_item(vehicle.vehicle_class, vehicle.plate_text, lot.name, row),
    )


def _prior_sale(
    s: Session, event_id: str, key: str, sale: tuple[int, str, str, date]
) -> int | None:
    """The pass a retried request sold before; an error if the request id sold another."""
    prior = s.scalar(
        select(orm.MonthlyPass)
        .join(orm.JournalEntry, orm.JournalEntry.id == orm.MonthlyPass.journal_entry_id)
        .where(orm.JournalEntry.idempotency_key == event_id)
    )
    if prior is None:
        return None
    if (prior.vehicle_id, prior.lot_id, prior.kind, prior.valid_from) != sale:
        raise IdempotencyConflict(f"pass sale {key!r} was used for another pass")
    return prior.id


def _pass_price(uow: UnitOfWork, lot: LotInfo, vehicle_class: str, kind: str, start: date) -> int:
    """The price of this pass in the tariff in force at noon on its first day."""
    tariff = uow.tariffs.in_force(lot.tariff_id, datetime.combine(start, time(12), LOCAL))
    prices = tariff.for_class(vehicle_class).passes
    if kind not in prices:
        raise DomainError(f"lot {lot.id} sells no {kind} pass for {vehicle_class}")
    return prices[kind]


def _item(vehicle_class: str, plate: str, lot_name: str, p: orm.MonthlyPass) -> SaleItem:
    """What the invoice line says was sold, e.g. "Vé tháng gửi ô tô đến 9 chỗ (ngày và đêm) -
    30E-246.80 - Bãi xe Hoàn Kiếm (01/11/2026 - 30/11/2026)"."""
    what = CLASS_NAMES.get(vehicle_class, vehicle_class)
    span = f"{p.valid_from:%d/%m/%Y} - {p.valid_until:%d/%m/%Y}"
    return SaleItem(
        kind="monthly_pass",
        name=f"Vé tháng gửi {what} ({KIND_NAMES.get(p.kind, p.kind)}) - {plate} - "
        f"{lot_name} ({span})",
        code=f"PARKING-PASS-{p.kind.upper()}",
        pass_kind=p.kind,
        valid_from=p.valid_from,
        valid_until=p.valid_until,
    )


def list_passes(
    uow: UnitOfWork,
    *,
    account_id: int | None = None,
    lot_id: str | None = None,
    valid_on: date | None = None,
    pass_id: int | None = None,
    limit: int = 100,
) -> list[PassView]:
    """Passes, newest first."""
    with uow:
        stmt = (
            select(orm.MonthlyPass, orm.Vehicle.plate_text, orm.Vehicle.account_id)
            .join(orm.Vehicle, orm.Vehicle.id == orm.MonthlyPass.vehicle_id)
            .order_by(orm.MonthlyPass.id.desc())
        )
        if account_id is not None:
            stmt = stmt.where(orm.Vehicle.account_id == account_id)
        if lot_id:
            stmt = stmt.where(orm.MonthlyPass.lot_id == lot_id)
        if pass_id is not None:
            stmt = stmt.where(orm.MonthlyPass.id == pass_id)
        if valid_on is not None:
            stmt = stmt.where(
                orm.MonthlyPass.valid_from <= valid_on, orm.MonthlyPass.valid_until >= valid_on
            )
        return [
            PassView(
                p.id,
                p.vehicle_id,
                plate,
                acct,
                p.lot_id,
                p.kind,
                p.valid_from,
                p.valid_until,
                p.price_vnd,
                p.journal_entry_id,
            )
            for p, plate, acct in uow.session.execute(stmt.limit(limit))
        ]
