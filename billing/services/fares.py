"""Pricing a parking session and debiting its fare: shared by settlement and the review queue."""

from __future__ import annotations

import logging
from typing import Any

from billing.adapters import outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.coverage import PassCover
from billing.domain.ledger import fare_posting
from billing.domain.model import DomainError
from billing.domain.tariffs import Fare, local_zone, price_stay
from billing.services.ledger import post
from billing.services.lots import LotInfo
from billing.services.rows import AccountLike, SessionLike
from billing.services.statements import q_passes

LOCAL_TZ = "Asia/Ho_Chi_Minh"
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
        rows = uow.session.execute(q_passes(), params)
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


def invoice_buyer(acct: AccountLike) -> dict[str, Any]:
    """The ``buyer`` of an ``invoice_request`` (docs/contracts.md): the transport account."""
    return {
        "account_id": acct.id,
        "kind": acct.kind,
        "name": acct.name,
        "tax_code": acct.tax_code,
        "address": acct.address,
    }


def debit_fare(
    uow: UnitOfWork,
    event_id: str,
    acct: AccountLike,
    lot: LotInfo,
    gate_id: str,
    session: SessionLike,
    amount_vnd: int,
    vat_vnd: int,
    *,
    fresh_key: bool = False,
    queue: list[tuple[str, str, dict[str, Any]]] | None = None,
) -> int:
    """Post the fare (key ``exit:<event id>``: one debit per passage) and queue its invoice.

    ``fresh_key``: the caller inserted this event's passage in the same transaction, so no entry
    can carry the key yet (the unique index still guards it); skip the look-up.
    ``queue``: collect the outbox rows there (written together by the caller) instead of now.
    """
    rows: list[tuple[str, str, dict[str, Any]]] = [] if queue is None else queue
    posting = fare_posting(
        f"exit:{event_id}",
        acct.id,
        lot.id,
        amount_vnd,
        vat_vnd,
        f"parking {session.plate_text} at {lot.id}",
    )
    posted = post(
        uow.session, posting, account=acct, lot_id=lot.id, event_id=event_id, fresh_key=fresh_key
    )
    if posted.created:
        tz = local_zone(LOCAL_TZ)
        rows.append(
            (
                outbox.INVOICE_REQUEST,
                event_id,
                {
                    "event_id": event_id,
                    "journal_entry_id": posted.entry_id,
                    "session_id": session.id,
                    "lot_id": lot.id,
                    "lot_name": lot.name,
                    "gate_id": gate_id,
                    "plate": session.plate_text,
                    "vehicle_class": session.vehicle_class,
                    "entry_at": session.entry_at.astimezone(tz).isoformat(),
                    "exit_at": (session.exit_at or session.entry_at).astimezone(tz).isoformat(),
                    "fare_vnd": amount_vnd,
                    "seller": dict(lot.seller),
                    "buyer": invoice_buyer(acct),
                },
            )
        )
        if acct.balance_vnd < acct.low_balance_notice_vnd:
            rows.append(
                (
                    outbox.LOW_BALANCE_NOTICE,
                    event_id,
                    {
                        "account_id": acct.id,
                        "balance_vnd": acct.balance_vnd,
                        "notice_level_vnd": acct.low_balance_notice_vnd,
                        "event_id": event_id,
                    },
                )
            )
    if queue is None and rows:
        outbox.add_many(uow.session, rows)
    return posted.entry_id
