"""Where notices come from: billing's ``low_balance_notice`` outbox rows, paid trips, verified
top-ups and operators' manual credits (receipts). Each source writes at most one notice per
event (key ``<kind>:<event>``).

The outbox rows are claimed and marked processed in the transaction that writes their notices.
Receipts are read from billing's tables over a recent window (``receipt_window``) and written
for the events that have none yet, so the order in which concurrent transactions commit cannot
make one be skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.adapters import orm as b
from billing.adapters import outbox
from gateway.notices.port import Channel
from gateway.notices.queue import audience, enqueue
from gateway.orm import Notice
from gateway.web.formatting import local_time, vnd

log = logging.getLogger(__name__)

LOW_BALANCE = "low_balance"
TRIP_RECEIPT = "trip_receipt"
TOPUP_RECEIPT = "topup_receipt"
CREDIT_RECEIPT = "credit_receipt"
# Once warned, an account is not warned again until it was topped up or a day has passed.
LOW_BALANCE_QUIET = timedelta(hours=24)
TIME_FORMAT = "%d/%m/%Y %H:%M"


def low_balance_notices(
    session: Session, channels: Iterable[Channel], now: datetime, limit: int = 100
) -> int:
    """Turn pending ``low_balance_notice`` outbox rows into notices; returns how many."""
    written = 0
    channels = tuple(channels)
    for row in outbox.claim(session, outbox.LOW_BALANCE_NOTICE, limit):
        payload = row.payload or {}
        account_id = int(payload.get("account_id", 0))
        who = audience(session, account_id, channels)
        if who.anyone and not _warned_lately(session, account_id, now):
            enqueue(
                session,
                key=f"{LOW_BALANCE}:{payload.get('event_id', row.key)}",
                kind=LOW_BALANCE,
                code="notice_low_balance",
                params={
                    "balance": vnd(int(payload.get("balance_vnd", 0))),
                    "level": vnd(int(payload.get("notice_level_vnd", 0))),
                },
                lang=who.lang,
                to=who.to,
                account_id=account_id,
            )
            written += 1
        outbox.mark_processed(session, row.id)
    return written


def _warned_lately(session: Session, account_id: int, now: datetime) -> bool:
    last = session.scalar(
        select(func.max(Notice.created_at)).where(
            Notice.account_id == str(account_id), Notice.kind == LOW_BALANCE
        )
    )
    if last is None or now - last >= LOW_BALANCE_QUIET:
        return False
    credited = [
        session.scalar(select(func.max(t.created_at)).where(t.account_id == account_id))
        for t in (b.TopUp, b.ManualCredit)
    ]
    return all(at is None or at < last for at in credited)


def trip_receipts(
    session: Session,
    channels: Iterable[Channel],
    now: datetime,
    window: timedelta,
    limit: int = 200,
) -> int:
    """A receipt for every trip charged to a prepaid balance since ``now - window``."""
    s, p = b.ParkingSession, b.Passage
    rows = session.execute(
        select(
            s.account_id,
            s.plate_text,
            s.lot_id,
            s.exit_at,
            s.fare_vnd,
            s.journal_entry_id,
            p.event_id,
        )
        .join(p, p.id == s.exit_passage_id)
        .where(
            s.payment == "charged",
            s.account_id.is_not(None),
            s.exit_at >= now - window,
            s.journal_entry_id.is_not(None),
        )
        .order_by(s.exit_at)
        .limit(limit)
    ).all()
    keys = {f"{TRIP_RECEIPT}:{r.event_id}": r for r in rows}
    fresh = _unwritten(session, keys)
    lots = {lot.id: lot.name for lot in session.scalars(select(b.Lot))} if fresh else {}
    channels = tuple(channels)
    for key in fresh:
        r = keys[key]
        who = audience(session, int(r.account_id), channels)
        if not who.anyone:
            continue
        enqueue(
            session,
            key=key,
            kind=TRIP_RECEIPT,
            code="notice_trip_receipt",
            params={
                "fare": vnd(r.fare_vnd),
                "plate": r.plate_text,
                "lot": lots.get(r.lot_id, r.lot_id),
                "exit_at": local_time(r.exit_at, TIME_FORMAT),
                "balance": vnd(balance_after(session, int(r.account_id), int(r.journal_entry_id))),
                "event_id": r.event_id,
            },
            lang=who.lang,
            to=who.to,
            account_id=int(r.account_id),
        )
    return len(fresh)


def topup_receipts(
    session: Session,
    channels: Iterable[Channel],
    now: datetime,
    window: timedelta,
    provider_names: dict[str, str],
    limit: int = 200,
) -> int:
    """A receipt for every top-up credited since ``now - window``."""
    return _money_in_receipts(
        session,
        channels,
        _recent(session, b.TopUp, now - window, limit),
        TOPUP_RECEIPT,
        lambda t: {"provider": provider_names.get(t.provider, t.provider)},
    )


def credit_receipts(
    session: Session,
    channels: Iterable[Channel],
    now: datetime,
    window: timedelta,
    limit: int = 200,
) -> int:
    """A receipt for every operator's manual credit since ``now - window`` (the operator's
    reason is internal and is not sent)."""
    return _money_in_receipts(
        session,
        channels,
        _recent(session, b.ManualCredit, now - window, limit),
        CREDIT_RECEIPT,
        lambda c: {},
    )


MoneyIn = TypeVar("MoneyIn", b.TopUp, b.ManualCredit)


def _recent(session: Session, table: type[MoneyIn], since: datetime, limit: int) -> list[MoneyIn]:
    stmt = select(table).where(table.created_at >= since).order_by(table.id).limit(limit)
    return list(session.scalars(stmt))


def _money_in_receipts(
    session: Session,
    channels: Iterable[Channel],
    rows: Sequence[MoneyIn],
    kind: str,
    extra: Callable[[MoneyIn], dict[str, str]],
) -> int:
    """Notice ``kind`` (code ``notice_<kind>``) for each of ``rows`` that has none yet: its amount
    and time, and ``extra(row)``."""
    keys = {f"{kind}:{row.id}": row for row in rows}
    fresh = _unwritten(session, keys)
    channels = tuple(channels)
    for key in fresh:
        row = keys[key]
        who = audience(session, row.account_id, channels)
        if not who.anyone:
            continue
        enqueue(
            session,
            key=key,
            kind=kind,
            code=f"notice_{kind}",
            params={
                "amount": vnd(row.amount_vnd),
                **extra(row),
                "at": local_time(row.created_at, TIME_FORMAT),
            },
            lang=who.lang,
            to=who.to,
            account_id=row.account_id,
        )
    return len(fresh)


def _unwritten(session: Session, keys: Mapping[str, object]) -> list[str]:
    if not keys:
        return []
    seen = set(session.scalars(select(Notice.key).where(Notice.key.in_(list(keys)))))
    return [k for k in keys if k not in seen]


def balance_after(session: Session, account_id: int, entry_id: int) -> int:
    """The prepaid balance right after journal entry ``entry_id`` (the ledger's own sum)."""
    from billing.domain.ledger import prepaid_account

    total = session.scalar(
        select(func.coalesce(func.sum(b.JournalLine.amount_vnd), 0)).where(
            b.JournalLine.ledger_account == prepaid_account(account_id),
            b.JournalLine.entry_id <= entry_id,
        )
    )
    return -int(total or 0)
