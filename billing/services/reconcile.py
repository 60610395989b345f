"""Reconciliation per lot and local day: passages, sessions, fares, ledger, money coming in and
(pluggable) invoices and payment records.

Billing may not import einvoice, so invoices come in through ``invoices``: a function that,
given event ids, returns how many invoices exist for each event and their total. Nor may it read
the gateway's verified webhook deliveries: they come in through ``payments``
(``billing.services.reconcile_money``). Both are asked after billing's own transaction has
ended: on SQLite that transaction holds the database's write lock (``BEGIN IMMEDIATE``), which
a lookup on its own connection would wait for. Every disagreement is listed; nothing is
corrected here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.services.ledger import check_balances, unbalanced_entries
from billing.services.reads import local_day_bounds
from billing.services.reconcile_money import (
    MoneyIn,
    PaymentRecords,
    money_in,
    payment_mismatches,
)


class InvoicedTotals(Protocol):
    """What reconciliation reads of an event's invoices (einvoice's EventInvoices has it)."""

    @property
    def count(self) -> int: ...
    @property
    def amount_vnd(self) -> int: ...


@dataclass(frozen=True)
class InvoiceTotals:
    count: int
    amount_vnd: int


# event ids -> their invoices' totals (events without an invoice are absent)
InvoiceLookup = Callable[[Sequence[str]], Mapping[str, InvoicedTotals]]


@dataclass(frozen=True)
class Mismatch:
    lot_id: str | None
    kind: str
    ref: str
    detail: str


@dataclass(frozen=True)
class LotFigures:
    lot_id: str
    entries: int = 0
    exits: int = 0
    opened: int = 0
    review_pending: int = 0
    closed_sessions: int = 0
    charged_sessions: int = 0
    fares_vnd: int = 0  # charged fares on sessions closed that day
    ledger_fares_vnd: int = 0  # prepaid debits of the fare entries of those exits
    vat_vnd: int = 0
    refunds_vnd: int = 0
    passes_sold: int = 0  # monthly passes sold that day (journal kind "pass")
    passes_vnd: int = 0
    invoices: int | None = None
    invoiced_vnd: int | None = None


@dataclass(frozen=True)
class Reconciliation:
    day: date
    lots: tuple[LotFigures, ...]
    trial_balance_vnd: int  # sum of all journal lines: zero when the books balance
    mismatches: tuple[Mismatch, ...] = field(default_factory=tuple)
    topups: int = 0  # top-ups credited that day (every account)
    topups_vnd: int = 0
    credits: int = 0  # operators' manual credits that day
    credits_vnd: int = 0
    payments_checked: bool = False  # the top-ups were checked against verified webhooks

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.trial_balance_vnd == 0


@dataclass(frozen=True)
class _ToInvoice:
    """What a lot's day owes the tax authority: one invoice per charged event."""

    lot_id: str
    asked: tuple[str, ...]  # every event the lookup is asked about
    charged: dict[str, int]  # event id -> amount that must be invoiced


def reconcile(
    uow: UnitOfWork,
    day: date,
    lot_id: str | None = None,
    invoices: InvoiceLookup | None = None,
    payments: PaymentRecords | None = None,
) -> Reconciliation:
    start, end = local_day_bounds(day)
    mismatches: list[Mismatch] = []

    def unplaced(kind: str, ref: object, detail: str) -> None:  # money of no lot
        mismatches.append(Mismatch(None, kind, str(ref), detail))

    with uow:
        s = uow.session
        lot_ids = [lot_id] if lot_id else list(s.scalars(select(orm.Lot.id).order_by(orm.Lot.id)))
        per_lot = [_lot(s, lid, start, end, mismatches) for lid in lot_ids]
        money: MoneyIn = money_in(s, start, end, unplaced)
        total = int(s.scalar(select(func.coalesce(func.sum(orm.JournalLine.amount_vnd), 0))) or 0)
        for entry_id in unbalanced_entries(s):
            mismatches.append(
                Mismatch(
                    None,
                    "unbalanced_entry",
                    str(entry_id),
                    "journal entry lines do not sum to zero",
                )
            )
        for bm in check_balances(s):
            mismatches.append(
                Mismatch(
                    None,
                    "balance",
                    str(bm.account_id),
                    f"cached {bm.cached_vnd} VND, journal {bm.journal_vnd} VND",
                )
            )
    figures = [fig for fig, _ in per_lot]
    if payments is not None:  # outside billing's transaction, as the invoice lookup
        payment_mismatches(uow, money, payments, start, end, unplaced)
    if invoices is not None:  # outside billing's transaction (see the module's docstring)
        for i, (fig, todo) in enumerate(per_lot):
            found = invoices(todo.asked)
            mismatches.extend(_invoice_mismatches(todo, found))
            figures[i] = replace(
                fig,
                invoices=sum(t.count for t in found.values()),
                invoiced_vnd=sum(t.amount_vnd for t in found.values()),
            )
    return Reconciliation(
        day,
        tuple(figures),
        total,
        tuple(mismatches),
        topups=len(money.topups),
        topups_vnd=sum(t.amount_vnd for t in money.topups),
        credits=money.credits,
        credits_vnd=money.credits_vnd,
        payments_checked=payments is not None,
    )


def _invoice_mismatches(todo: _ToInvoice, found: Mapping[str, InvoicedTotals]) -> list[Mismatch]:
    out: list[Mismatch] = []

    def miss(kind: str, ref: str, detail: str) -> None:
        out.append(Mismatch(todo.lot_id, kind, ref, detail))

    for ev, fare in todo.charged.items():
        got = found.get(ev)
        if got is None or got.count == 0:
            miss("invoice_missing", ev, f"charged {fare} VND, no invoice")
        elif got.count > 1:
            miss("invoice_duplicate", ev, f"{got.count} invoices for one charge")
        elif got.amount_vnd != fare:
            miss("invoice_amount", ev, f"charged {fare} VND, invoiced {got.amount_vnd}")
    for ev in sorted(set(found) - set(todo.charged)):
        if found[ev].count:
            miss("invoice_without_fare", ev, "invoice for an event that was not charged")
    return out


def _lot(
    s: Session,
    lot_id: str,
    start: datetime,
    end: datetime,
    mismatches: list[Mismatch],
) -> tuple[LotFigures, _ToInvoice]:
    def miss(kind: str, ref: object, detail: str) -> None:
        mismatches.append(Mismatch(lot_id, kind, str(ref), detail))

    passages = list(
        s.scalars(
            select(orm.Passage).where(
                orm.Passage.lot_id == lot_id,
                orm.Passage.captured_at >= start,
                orm.Passage.captured_at < end,
            )
        )
    )
    exits = {p.id: p for p in passages if p.direction == "exit"}
    sessions = list(
        s.scalars(
            select(orm.ParkingSession).where(
                orm.ParkingSession.lot_id == lot_id,
                orm.ParkingSession.status == "closed",
                orm.ParkingSession.exit_at >= start,
                orm.ParkingSession.exit_at < end,
            )
        )
    )
    event_of = {p.id: p.event_id for p in exits.values()}
    missing = [
        sess.exit_passage_id
        for sess in sessions
        if sess.exit_passage_id and sess.exit_passage_id not in event_of
    ]
    if missing:
        for pid, ev in s.execute(
            select(orm.Passage.id, orm.Passage.event_id).where(orm.Passage.id.in_(missing))
        ):
            event_of[pid] = ev
    # Fare entries of the lot that belong to this day's exits, and any that belong to none.
    events = set(event_of.values())
    entries = (
        {
            e.event_id: e
            for e in s.scalars(
                select(orm.JournalEntry).where(
                    orm.JournalEntry.lot_id == lot_id,
                    orm.JournalEntry.kind == "fare",
                    orm.JournalEntry.event_id.in_(events),
                )
            )
        }
        if events
        else {}
    )
    debits: dict[int, int] = defaultdict(int)
    credits: dict[int, int] = defaultdict(int)
    vat = 0
    if entries:
        for eid, code, amount in s.execute(
            select(
                orm.JournalLine.entry_id, orm.JournalLine.ledger_account, orm.JournalLine.amount_vnd
            ).where(orm.JournalLine.entry_id.in_([e.id for e in entries.values()]))
        ):
            if amount > 0:
                debits[eid] += amount
            else:
                credits[eid] -= amount
            if code == "liability:vat_payable":
                vat -= amount
    for sess in sessions:
        if sess.payment == "free" and sess.entry_passage_id is None:
            # Every free stay starts at a recorded entry. One without is what a denied flat
            # fare would leave if it kept its session open: the retry prices 0 minutes at 0.
            miss(
                "free_exit_without_entry",
                sess.id,
                f"session closed free at exit passage {sess.exit_passage_id} has no entry "
                "passage (a phantom session: the car left without paying)",
            )
    charged = [x for x in sessions if x.payment == "charged"]
    fares = 0
    charged_events: dict[str, int] = {}
    for sess in charged:
        fares += sess.fare_vnd or 0
        exit_event = event_of.get(sess.exit_passage_id or -1)
        entry = entries.get(exit_event) if exit_event else None
        if entry is None:
            miss(
                "fare_without_entry",
                sess.id,
                f"session charged {sess.fare_vnd} VND, no journal entry for its exit "
                f"event {exit_event}",
            )
            continue
        charged_events[entry.event_id or ""] = sess.fare_vnd or 0
        if entry.id != sess.journal_entry_id:
            miss(
                "entry_link",
                sess.id,
                f"session points at entry {sess.journal_entry_id}, the exit's entry is {entry.id}",
            )
        if debits[entry.id] != sess.fare_vnd or credits[entry.id] != sess.fare_vnd:
            miss(
                "amount",
                sess.id,
                f"fare {sess.fare_vnd} VND, journal entry {entry.id} debits "
                f"{debits[entry.id]} and credits {credits[entry.id]}",
            )
    for ev_key, entry in entries.items():
        if ev_key not in charged_events:
            miss(
                "entry_without_session",
                entry.id,
                f"fare entry for event {ev_key} has no charged session closed that day",
            )
    for p in exits.values():
        if p.reason in ("exit_paid", "exit_overdraft") and p.event_id not in entries:
            miss("passage_not_posted", p.event_id, f"passage says {p.reason}, no fare entry")
        if p.fare_vnd and p.event_id in charged_events and charged_events[p.event_id] != p.fare_vnd:
            miss(
                "passage_fare",
                p.event_id,
                f"gate showed {p.fare_vnd} VND, session charged {charged_events[p.event_id]}",
            )
    refunds = -int(
        s.scalar(
            select(func.coalesce(func.sum(orm.JournalLine.amount_vnd), 0))
            .join(orm.JournalEntry, orm.JournalEntry.id == orm.JournalLine.entry_id)
            .where(
                orm.JournalEntry.kind == "refund",
                orm.JournalEntry.lot_id == lot_id,
                orm.JournalEntry.created_at >= start,
                orm.JournalEntry.created_at < end,
                orm.JournalLine.ledger_account.like("liability:prepaid:%"),
            )
        )
        or 0
    )
    sold, sold_vnd = _pass_sales(s, lot_id, start, end, miss)
    figures = LotFigures(
        lot_id=lot_id,
        entries=sum(1 for p in passages if p.direction == "entry"),
        exits=len(exits),
        opened=sum(1 for p in passages if p.opened),
        review_pending=sum(1 for p in passages if p.review_status == "pending"),
        closed_sessions=len(sessions),
        charged_sessions=len(charged),
        fares_vnd=fares,
        ledger_fares_vnd=sum(debits.values()),
        vat_vnd=vat,
        refunds_vnd=refunds,
        passes_sold=len(sold),
        passes_vnd=sold_vnd,
    )
    to_invoice = {**charged_events, **sold}
    asked = tuple(sorted(events | set(to_invoice)))
    return figures, _ToInvoice(lot_id, asked, to_invoice)


def _pass_sales(
    s: Session,
    lot_id: str,
    start: datetime,
    end: datetime,
    miss: Callable[[str, object, str], None],
) -> tuple[dict[str, int], int]:
    """The lot's monthly pass sales posted that day, tied to the passes they sold: (event id ->
    price to be invoiced, total). Each sale is invoiced under its event id ``pass:<key>``."""
    sales = list(
        s.scalars(
            select(orm.JournalEntry).where(
                orm.JournalEntry.kind == "pass",
                orm.JournalEntry.lot_id == lot_id,
                orm.JournalEntry.created_at >= start,
                orm.JournalEntry.created_at < end,
            )
        )
    )
    if not sales:
        return {}, 0
    ids = [e.id for e in sales]
    paid: dict[int, int] = defaultdict(int)
    for eid, amount in s.execute(
        select(orm.JournalLine.entry_id, orm.JournalLine.amount_vnd).where(
            orm.JournalLine.entry_id.in_(ids), orm.JournalLine.amount_vnd > 0
        )
    ):
        paid[eid] += amount
    passes = {
        mp.journal_entry_id: mp
        for mp in s.scalars(
            select(orm.MonthlyPass).where(orm.MonthlyPass.journal_entry_id.in_(ids))
        )
    }
    sold: dict[str, int] = {}
    for e in sales:
        mp = passes.get(e.id)
        if mp is None:
            miss("pass_without_pass", e.id, f"pass entry of {paid[e.id]} VND sold no pass")
        elif mp.price_vnd != paid[e.id]:
            miss(
                "pass_amount",
                mp.id,
                f"pass priced {mp.price_vnd} VND, entry {e.id} debits {paid[e.id]}",
            )
        if e.event_id is None:
            miss("pass_without_event", e.id, "pass sale without an event id: no invoice ties to it")
        else:
            sold[e.event_id] = paid[e.id]
    return sold, sum(paid.values())
