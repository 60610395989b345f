"""Pricing a parking session and debiting its fare: shared by settlement and the review queue."""

from __future__ import annotations

import logging
from typing import Any

from billing.adapters import outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.coverage import PassCover
from billing.domain.events import InvoiceBuyer, InvoiceRequested, LowBalanceNoticed, OutboxEvent
from billing.domain.ledger import fare_posting
from billing.domain.model import DomainError
from billing.domain.tariffs import Fare, local_zone, price_stay
from billing.domain.vn import LOCAL_TZ
from billing.services.ledger import post, post_queued
from billing.services.lots import LotInfo
from billing.services.rows import AccountLike, SessionLike
from billing.services.statements import q_passes

log = logging.getLogger(__name__)


def price_session(
    uow: UnitOfWork,
    lot: LotInfo,
    session: SessionLike,
    vehicle_class: str,
    exit_at: Any,
    vehicle_id: int | None,
    may_have_pass: bool = True,
) -> Fare:
    """Price with the tariff version in force when the vehicle entered.

    Every pass of the vehicle at this lot valid on some local date of the stay goes to the
    pricing, with its dates: each covers only its own days, so a stay that outlives a pass pays
    for the days after it, and renewals chain.
    """
    tariff = uow.tariffs.in_force(lot.tariff_id, session.entry_at)
    exit_at = max(exit_at, session.entry_at)
    passes: list[PassCover] = []
    if vehicle_id is not None and may_have_pass:
        tz = local_zone(tariff.timezone)
        params = {
            "vehicle": vehicle_id,
            "lot": lot.id,
            "first": session.entry_at.astimezone(tz).date(),
            "last": exit_at.astimezone(tz).date(),
        }
        rows = uow.connection.execute(q_passes(), params)
        passes = [p for row in rows if (p := _pass_cover(row)) is not None]
    return price_stay(tariff, vehicle_class, session.entry_at, exit_at, passes)


def _pass_cover(row: Any) -> PassCover | None:
    """A stored pass as the pricing sees it; a row of an unknown kind is logged and ignored
    (the exit is then priced without it) rather than failing the gate."""
    try:
        return PassCover(row.kind, row.valid_from, row.valid_until)
    except DomainError as exc:
        log.error("monthly pass %s ignored: %s", row.id, exc)
        return None


def invoice_buyer(acct: AccountLike) -> InvoiceBuyer:
    """The buyer of an invoice request: the transport account, where its invoices are emailed,
    and whether its passages wait for the month's consolidated invoice."""
    return InvoiceBuyer(
        acct.id,
        acct.kind,
        acct.name,
        acct.tax_code,
        acct.address,
        email=acct.invoice_email or None,
        monthly=bool(acct.invoice_monthly),
    )


def debit_fare(
    uow: UnitOfWork,
    event_id: str,
    acct: AccountLike,
    lot: LotInfo,
    gate_id: str,
    session: SessionLike,
    fare: Fare,
    *,
    fresh_key: bool = False,
    queue: list[OutboxEvent] | None = None,
    queued_entry: tuple[int, list[tuple[str, dict[str, Any]]]] | None = None,
) -> int:
    """Post the fare (key ``exit:<event id>``: one debit per passage) and queue its invoice,
    which names the VAT rate the fare was booked at.

    ``fresh_key``: the caller inserted this event's passage in the same transaction, so no entry
    can carry the key yet (the unique index still guards it); skip the look-up.
    ``queue``: collect the outbox events there (written together by the caller) instead of now.
    ``queued_entry``: (the entry's id, drawn beforehand; the caller's queued writes): the entry
    is queued there too (``ledger.post_queued``, a fresh key), not written now.
    """
    rows: list[OutboxEvent] = [] if queue is None else queue
    posting = fare_posting(
        f"exit:{event_id}",
        acct.id,
        lot.id,
        fare.amount_vnd,
        fare.vat_vnd,
        f"parking {session.plate_text} at {lot.id}",
    )
    if queued_entry is not None:
        posted = post_queued(posting, *queued_entry, account=acct, lot_id=lot.id, event_id=event_id)
    else:
        posted = post(
            uow.connection,
            posting,
            account=acct,
            lot_id=lot.id,
            event_id=event_id,
            fresh_key=fresh_key,
        )
    if posted.created:
        tz = LOCAL_TZ
        rows.append(
            InvoiceRequested(
                event_id=event_id,
                journal_entry_id=posted.entry_id,
                lot_id=lot.id,
                lot_name=lot.name,
                plate=session.plate_text,
                vehicle_class=session.vehicle_class,
                fare_vnd=fare.amount_vnd,
                vat_percent=fare.vat_percent,
                seller=lot.seller,
                buyer=invoice_buyer(acct),
                session_id=session.id,
                gate_id=gate_id,
                entry_at=session.entry_at.astimezone(tz),
                exit_at=(session.exit_at or session.entry_at).astimezone(tz),
            )
        )
        if acct.balance_vnd < acct.low_balance_notice_vnd:
            rows.append(
                LowBalanceNoticed(event_id, acct.id, acct.balance_vnd, acct.low_balance_notice_vnd)
            )
    if queue is None and rows:
        outbox.add_many(uow.connection, rows)
    return posted.entry_id
