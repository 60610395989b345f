"""The monthly consolidated invoice, the way VETC invoices its business accounts.

An account with the monthly option (billing's ``InvoiceBuyer.monthly``) gets no invoice per
passage: the invoice worker keeps each of its paid exits in ``einvoice_monthly_items`` instead
(unique by event id, so a passage waits once). After the month ends (local time), one invoice
per (account, seller) takes all of that month's waiting passages, one line each, and marks them
with its id in the same transaction that takes its number: no passage is invoiced twice, and a
failed transaction burns no number. A passage of a month that arrives after the month's
invoice (an exit settled late) goes on a further consolidated invoice for that month.

Monthly sales that are not stays (passes) keep their own invoice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.domain.events import InvoiceRequested
from einvoice.db import invoices, monthly_items
from einvoice.invoice_request import buyer_of, request_line, request_percent
from einvoice.model import (
    LOCAL_TZ,
    Invoice,
    SellerParty,
    Totals,
)

log = logging.getLogger(__name__)

MAX_LINES = 500  # lines on one invoice (the authority takes messages of about 1 MB)


class MonthNotOver(ValueError):
    """A month is invoiced only once it has ended (local time)."""


@runtime_checkable
class ConsolidatingMaker(Protocol):
    """A maker that also builds and signs a month's consolidated invoice (einvoice.maker)."""

    def consolidated(
        self, requests: Sequence[InvoiceRequested], identity: Any, period: str
    ) -> Any: ...


def is_monthly(request: InvoiceRequested) -> bool:
    """A paid stay of an account that takes one invoice a month."""
    return request.buyer.monthly and request.item is None and request.exit_at is not None


def period_of(moment: datetime) -> str:
    local = moment.astimezone(LOCAL_TZ)
    return f"{local.year:04d}-{local.month:02d}"


def period_label(period: str) -> str:
    """``2026-11`` -> ``11/2026``, as the invoice prints it."""
    year, month = period.split("-")
    return f"{month}/{year}"


def check_period(period: str) -> str:
    try:
        year, month = (int(p) for p in period.split("-"))
    except ValueError:
        raise MonthNotOver(f"a month is written YYYY-MM, not {period!r}") from None
    if not (2000 <= year <= 9999 and 1 <= month <= 12) or len(period) != 7:
        raise MonthNotOver(f"a month is written YYYY-MM, not {period!r}")
    return period


def defer(session: Session, request_key: str, request: InvoiceRequested, now: datetime) -> bool:
    """Keep the passage for its month's invoice (in the caller's transaction); False when it
    is already kept."""
    seen = session.execute(
        select(monthly_items.c.id).where(monthly_items.c.request_key == request_key)
    ).scalar_one_or_none()
    if seen is not None:
        return False
    assert request.exit_at is not None
    session.execute(
        insert(monthly_items).values(
            request_key=request_key,
            account_id=str(request.buyer.account_id),
            seller_tax_code=request.seller.tax_code,
            period=period_of(request.exit_at),
            total_vnd=request.fare_vnd,
            payload=request.to_payload(),
            invoice_id=None,
            created_at=now,
        )
    )
    return True


def consolidated_invoice(
    requests: Sequence[InvoiceRequested],
    *,
    template: str,
    series: str,
    number: int,
    issued_at: datetime,
    period: str,
    mccqt: str | None = None,
    provider_tax_code: str | None = None,
) -> Invoice:
    """One invoice for a month's passages of one account at one seller: a line per passage
    (each split at the rate it was booked at, so every line adds back to what was paid), the
    buyer as the newest passage names it."""
    if not requests:
        raise ValueError("a consolidated invoice needs at least one passage")
    ordered = sorted(requests, key=lambda r: (r.exit_at or issued_at, r.event_id))
    lines = tuple(
        request_line(r, i, request_percent(r, issued_at)) for i, r in enumerate(ordered, start=1)
    )
    newest = ordered[-1]
    seller = newest.seller
    plates = sorted({r.plate for r in ordered if r.plate})
    lots = sorted({r.lot_name or r.lot_id for r in ordered})
    extras = [
        ("Kỳ hóa đơn", f"Tháng {period_label(period)}"),
        ("Số lượt", str(len(ordered))),
        ("Biển số xe", ", ".join(plates)),
        ("Bãi xe", ", ".join(lots)),
    ]
    return Invoice(
        template=template,
        series=series,
        number=number,
        issued_at=issued_at,
        seller=SellerParty(name=seller.name, tax_code=seller.tax_code, address=seller.address),
        buyer=buyer_of(newest.buyer),
        lines=lines,
        totals=Totals.of(lines),
        provider_tax_code=provider_tax_code,
        extras=tuple((k, v) for k, v in extras if v),
        mccqt=mccqt,
    )


@dataclass(frozen=True)
class MonthlyResult:
    account_id: str
    seller_tax_code: str
    period: str
    invoice_id: int | None
    passages: int
    total_vnd: int
    outcome: str  # issued | failed
    error: str | None = None


def due_periods(session: Session, now: datetime) -> list[str]:
    """The ended months that still have passages waiting."""
    current = period_of(now)
    rows = session.execute(
        select(monthly_items.c.period)
        .where(monthly_items.c.invoice_id.is_(None), monthly_items.c.period < current)
        .distinct()
        .order_by(monthly_items.c.period)
    )
    return [r.period for r in rows]


def waiting(session: Session, account_id: str) -> list[Any]:
    """An account's passages still waiting for their month's invoice (for the portal)."""
    return list(
        session.execute(
            select(monthly_items)
            .where(monthly_items.c.account_id == account_id, monthly_items.c.invoice_id.is_(None))
            .order_by(monthly_items.c.id)
        ).all()
    )


def issue_month(
    session_factory: sessionmaker[Session],
    maker: ConsolidatingMaker,
    period: str,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    account_id: str | None = None,
) -> list[MonthlyResult]:
    """Issue the consolidated invoices of ``period`` (``YYYY-MM``, ended): one per account and
    seller with waiting passages (``account_id``: only that account's). Each in its own
    transaction; a failure is logged, reported and left for the next run."""
    check_period(period)
    if period >= period_of(clock()):
        raise MonthNotOver(f"{period} has not ended yet: its invoices are issued after it ends")
    with session_factory() as s:
        stmt = (
            select(monthly_items.c.account_id, monthly_items.c.seller_tax_code)
            .where(monthly_items.c.period == period, monthly_items.c.invoice_id.is_(None))
            .distinct()
            .order_by(monthly_items.c.account_id, monthly_items.c.seller_tax_code)
        )
        if account_id is not None:
            stmt = stmt.where(monthly_items.c.account_id == account_id)
        groups = [(r.account_id, r.seller_tax_code) for r in s.execute(stmt)]
    results = []
    for account, seller in groups:
        try:
            with session_factory.begin() as session:
                result = _issue_group(session, maker, period, account, seller, clock)
        except Exception as exc:
            log.exception("monthly invoice of %s for account %s failed", period, account)
            result = MonthlyResult(account, seller, period, None, 0, 0, "failed", str(exc)[:300])
        if result is not None:
            results.append(result)
    return results


def _issue_group(
    session: Session,
    maker: ConsolidatingMaker,
    period: str,
    account: str,
    seller_tax_code: str,
    clock: Callable[[], datetime],
) -> MonthlyResult | None:
    from einvoice.worker import registration_of, store_invoice, take_identity

    items = session.execute(
        select(monthly_items)
        .where(
            monthly_items.c.period == period,
            monthly_items.c.account_id == account,
            monthly_items.c.seller_tax_code == seller_tax_code,
            monthly_items.c.invoice_id.is_(None),
        )
        .order_by(monthly_items.c.id)
        .limit(MAX_LINES)
        .with_for_update()
    ).all()
    if not items:
        return None  # another worker took them
    requests = [InvoiceRequested.from_payload(i.payload) for i in items]
    newest = max(requests, key=lambda r: r.exit_at or clock())
    registration = registration_of(newest.seller)
    before = session.execute(
        select(func.count()).where(
            invoices.c.request_key.like(f"monthly:{account}:{seller_tax_code}:{period}%")
        )
    ).scalar_one()
    key = f"monthly:{account}:{seller_tax_code}:{period}" + (f":{before + 1}" if before else "")
    identity = take_identity(session, registration, clock)
    signed = maker.consolidated(requests, identity, period)
    lots = {r.lot_id for r in requests}
    invoice_id = store_invoice(
        session,
        request_key=key,
        event_id=None,
        request=newest,
        seller=registration,
        identity=identity,
        signed=signed,
        payload={
            "monthly": {"period": period, "event_ids": [r.event_id for r in requests]},
            "buyer": newest.buyer.to_payload(),
            "seller": newest.seller.as_payload(),
        },
        lot_id=lots.pop() if len(lots) == 1 else None,
        plate=None,
    )
    session.execute(
        update(monthly_items)
        .where(monthly_items.c.id.in_([i.id for i in items]))
        .values(invoice_id=invoice_id)
    )
    total = sum(i.total_vnd for i in items)
    log.info(
        "monthly invoice %s (%s/%s no %d) of %s for account %s: %d passages, %d VND",
        invoice_id,
        identity.template,
        identity.series,
        identity.number,
        period,
        account,
        len(items),
        total,
    )
    return MonthlyResult(account, seller_tax_code, period, invoice_id, len(items), total, "issued")
