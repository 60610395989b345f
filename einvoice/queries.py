"""Reads of the invoice tables for the API, the dashboard, the driver portal and reconciliation.

Plain functions over a session, returning frozen dataclasses: routes stay thin and never see
table objects. Nothing here writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, case, false, func, select
from sqlalchemy.orm import Session, sessionmaker

from einvoice.db import (
    ACCEPTED,
    ORIGINAL,
    REJECTED,
    SENT,
    SIGNED,
    invoices,
    monthly_items,
    status_history,
)
from einvoice.invoice_codes import InvoiceCode, invoice_key, parse_invoice_code


@dataclass(frozen=True)
class InvoiceSummary:
    id: int
    kind: str  # original | adjusting | replacing
    mode: str
    template: str
    series: str
    number: int
    issue_date: date
    issued_at: datetime
    mccqt: str | None
    status: str
    event_id: str | None
    related_invoice_id: int | None
    seller_tax_code: str
    seller_name: str
    buyer_account_id: str | None
    buyer_name: str | None
    buyer_tax_code: str | None
    lot_id: str | None
    plate: str | None
    pretax_vnd: int
    vat_vnd: int
    total_vnd: int
    vat_rate: str
    last_error: str | None
    lookup_code: str | None = None  # random, printed on the invoice (einvoice.lookup_codes)

    @property
    def key(self) -> str:
        """Template + series + number, as printed: ``1C26MPK-00000042``."""
        return invoice_key(self.template, self.series, self.number)


@dataclass(frozen=True)
class StatusChange:
    status: str
    at: datetime
    message_id: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class InvoiceDetail:
    invoice: InvoiceSummary
    history: tuple[StatusChange, ...]
    corrections: tuple[InvoiceSummary, ...]
    has_authority_xml: bool


@dataclass(frozen=True)
class RejectedInvoice:
    invoice: InvoiceSummary
    rejected_at: datetime
    reasons: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class EventInvoices:
    """Invoices of one exit, in the shape billing's reconciliation asks for."""

    count: int  # original invoices (more than one is a bug)
    amount_vnd: int  # their total
    accepted: int
    adjustments_vnd: int  # net of adjusting invoices (refunds are negative)


@dataclass(frozen=True)
class LotDayTotals:
    lot_id: str | None
    day: date
    count: int
    total_vnd: int
    pretax_vnd: int
    vat_vnd: int
    accepted: int
    rejected: int
    pending: int


_SUMMARY_COLUMNS = (
    invoices.c.id,
    invoices.c.kind,
    invoices.c.mode,
    invoices.c.template,
    invoices.c.series,
    invoices.c.number,
    invoices.c.issue_date,
    invoices.c.issued_at,
    invoices.c.mccqt,
    invoices.c.status,
    invoices.c.event_id,
    invoices.c.related_invoice_id,
    invoices.c.seller_tax_code,
    invoices.c.seller_name,
    invoices.c.buyer_account_id,
    invoices.c.buyer_name,
    invoices.c.buyer_tax_code,
    invoices.c.lot_id,
    invoices.c.plate,
    invoices.c.pretax_vnd,
    invoices.c.vat_vnd,
    invoices.c.total_vnd,
    invoices.c.vat_rate,
    invoices.c.last_error,
    invoices.c.lookup_code,
)


def _summary(row: Any) -> InvoiceSummary:
    return InvoiceSummary(**{c.name: row._mapping[c.name] for c in _SUMMARY_COLUMNS})


def _plate_key(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper().replace("Đ", "D"))


def _stored_plate_key() -> Any:
    """The stored plate with its separators taken out, as :func:`_plate_key` does."""
    column: Any = func.upper(invoices.c.plate)
    for separator in ("-", ".", " "):
        column = func.replace(column, separator, "")
    return column


def _filtered(
    stmt: Select[Any],
    *,
    account_id: str | int | None = None,
    lot_id: str | None = None,
    lot_ids: Sequence[str] | None = None,
    status: str | Sequence[str] | None = None,
    kind: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    seller_tax_code: str | None = None,
    plate: str | None = None,
    code: str | None = None,
) -> Select[Any]:
    """``plate`` matches any part of the plate, separators aside (``12345`` finds
    ``30A-123.45``); ``code`` is an invoice code, a series, a number or an MCCQT
    (:func:`einvoice.invoice_codes.parse_invoice_code`); text that is none of these finds
    nothing."""
    if account_id is not None:
        stmt = stmt.where(invoices.c.buyer_account_id == str(account_id))
    if lot_id is not None:
        stmt = stmt.where(invoices.c.lot_id == lot_id)
    if lot_ids is not None:
        stmt = stmt.where(invoices.c.lot_id.in_(list(lot_ids)))
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        stmt = stmt.where(invoices.c.status.in_(wanted))
    if kind is not None:
        stmt = stmt.where(invoices.c.kind == kind)
    if date_from is not None:
        stmt = stmt.where(invoices.c.issue_date >= date_from)
    if date_to is not None:
        stmt = stmt.where(invoices.c.issue_date <= date_to)
    if seller_tax_code is not None:
        stmt = stmt.where(invoices.c.seller_tax_code == seller_tax_code)
    if plate is not None and _plate_key(plate):
        stmt = stmt.where(_stored_plate_key().contains(_plate_key(plate), autoescape=True))
    if code is not None and code.strip():
        stmt = _code_filtered(stmt, parse_invoice_code(code))
    return stmt


def _code_filtered(stmt: Select[Any], code: InvoiceCode | None) -> Select[Any]:
    if code is None:
        return stmt.where(false())
    if code.mccqt is not None:
        stmt = stmt.where(invoices.c.mccqt == code.mccqt)
    if code.template is not None:
        stmt = stmt.where(invoices.c.template == code.template)
    if code.series is not None:
        stmt = stmt.where(invoices.c.series == code.series)
    if code.number is not None:
        stmt = stmt.where(invoices.c.number == code.number)
    return stmt


def list_invoices(
    session: Session, *, limit: int = 100, offset: int = 0, **filters: Any
) -> list[InvoiceSummary]:
    """Newest first. Filters: account_id, lot_id or lot_ids, status (one or several), kind,
    date_from/date_to (invoice date, inclusive), seller_tax_code, plate, code."""
    stmt = _filtered(select(*_SUMMARY_COLUMNS), **filters)
    stmt = stmt.order_by(invoices.c.issued_at.desc(), invoices.c.id.desc())
    return [_summary(r) for r in session.execute(stmt.limit(limit).offset(offset))]


def count_invoices(session: Session, **filters: Any) -> int:
    stmt = _filtered(select(func.count()).select_from(invoices), **filters)
    return int(session.execute(stmt).scalar_one())


def status_counts(session: Session, **filters: Any) -> dict[str, int]:
    stmt = _filtered(select(invoices.c.status, func.count()).group_by(invoices.c.status), **filters)
    return {status: int(n) for status, n in session.execute(stmt)}


def get_invoice(session: Session, invoice_id: int) -> InvoiceDetail | None:
    row = session.execute(
        select(*_SUMMARY_COLUMNS, invoices.c.authority_xml.is_not(None).label("coded")).where(
            invoices.c.id == invoice_id
        )
    ).one_or_none()
    if row is None:
        return None
    corrections = session.execute(
        select(*_SUMMARY_COLUMNS)
        .where(invoices.c.related_invoice_id == invoice_id)
        .order_by(invoices.c.id)
    )
    return InvoiceDetail(
        invoice=_summary(row),
        history=tuple(history_of(session, invoice_id)),
        corrections=tuple(_summary(r) for r in corrections),
        has_authority_xml=bool(row.coded),
    )


def find_by_lookup_code(session: Session, code: str) -> InvoiceSummary | None:
    """The invoice printed with this lookup code (already normalized), if any."""
    row = session.execute(
        select(*_SUMMARY_COLUMNS).where(invoices.c.lookup_code == code)
    ).one_or_none()
    return None if row is None else _summary(row)


def get_invoice_for_event(session: Session, event_id: str) -> InvoiceSummary | None:
    """The original invoice of one exit (its corrections: :func:`get_invoice`)."""
    row = session.execute(
        select(*_SUMMARY_COLUMNS).where(
            invoices.c.event_id == event_id, invoices.c.kind == ORIGINAL
        )
    ).one_or_none()
    return None if row is None else _summary(row)


def invoice_ids_by_event(session: Session, event_ids: Sequence[str]) -> dict[str, int]:
    """The original invoice of each of these exits (gate event ids), where there is one."""
    wanted = [e for e in dict.fromkeys(event_ids) if e]
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        stmt = select(invoices.c.event_id, invoices.c.id).where(
            invoices.c.event_id.in_(wanted[start : start + 500]), invoices.c.kind == ORIGINAL
        )
        found.update({str(e): int(i) for e, i in session.execute(stmt)})
    return found


def history_of(session: Session, invoice_id: int) -> list[StatusChange]:
    rows = session.execute(
        select(
            status_history.c.status,
            status_history.c.at,
            status_history.c.message_id,
            status_history.c.detail,
        )
        .where(status_history.c.invoice_id == invoice_id)
        .order_by(status_history.c.id)
    )
    return [StatusChange(r.status, r.at, r.message_id, r.detail) for r in rows]


def rejected_invoices(
    session: Session, *, limit: int = 100, offset: int = 0, **filters: Any
) -> list[RejectedInvoice]:
    """Rejected invoices with the authority's reasons, newest first (dashboard)."""
    found = list_invoices(session, limit=limit, offset=offset, status=REJECTED, **filters)
    result = []
    for inv in found:
        change = next(h for h in reversed(history_of(session, inv.id)) if h.status == REJECTED)
        reasons = tuple((change.detail or {}).get("reasons") or ())
        result.append(RejectedInvoice(inv, change.at, reasons))
    return result


def invoice_xml(
    session: Session, invoice_id: int, *, prefer_coded: bool = True
) -> tuple[str, bytes]:
    """(file name, bytes) for an XML download: the coded copy when the authority returned one."""
    row = session.execute(
        select(
            invoices.c.template,
            invoices.c.series,
            invoices.c.number,
            invoices.c.xml,
            invoices.c.authority_xml,
        ).where(invoices.c.id == invoice_id)
    ).one_or_none()
    if row is None:
        raise LookupError(f"no invoice {invoice_id}")
    data = row.authority_xml if prefer_coded and row.authority_xml else row.xml
    return f"{row.template}{row.series}-{row.number:08d}.xml", bytes(data)


# --- reconciliation --------------------------------------------------------------------------


def invoices_by_event(session: Session, event_ids: Sequence[str]) -> dict[str, EventInvoices]:
    """Per exit: how many original invoices and their total, accepted ones, adjustments."""
    found: dict[str, EventInvoices] = {}
    ids = list(dict.fromkeys(event_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        original = invoices.c.kind == ORIGINAL
        stmt = (
            select(
                invoices.c.event_id,
                func.sum(case((original, 1), else_=0)),
                func.sum(case((original, invoices.c.total_vnd), else_=0)),
                func.sum(case(((invoices.c.status == ACCEPTED) & original, 1), else_=0)),
                func.sum(case((invoices.c.kind == "adjusting", invoices.c.total_vnd), else_=0)),
            )
            .where(invoices.c.event_id.in_(chunk))
            .group_by(invoices.c.event_id)
        )
        for event_id, count, amount, accepted, adjusted in session.execute(stmt):
            found[event_id] = EventInvoices(
                int(count or 0), int(amount or 0), int(accepted or 0), int(adjusted or 0)
            )
    _monthly_passages(session, [e for e in ids if e not in found or not found[e].count], found)
    return found


def _monthly_passages(
    session: Session, event_ids: Sequence[str], found: dict[str, EventInvoices]
) -> None:
    """Passages of monthly accounts: each is on its month's consolidated invoice (accepted
    when that invoice is), or kept for it until the month ends; either way invoiced once."""
    for start in range(0, len(event_ids), 500):
        stmt = (
            select(monthly_items.c.request_key, monthly_items.c.total_vnd, invoices.c.status)
            .select_from(
                monthly_items.outerjoin(invoices, invoices.c.id == monthly_items.c.invoice_id)
            )
            .where(monthly_items.c.request_key.in_(event_ids[start : start + 500]))
        )
        for event_id, total, status in session.execute(stmt):
            adjusted = found[event_id].adjustments_vnd if event_id in found else 0
            found[event_id] = EventInvoices(1, int(total), int(status == ACCEPTED), adjusted)


def event_lookup(
    session_factory: sessionmaker[Session],
) -> Callable[[Sequence[str]], dict[str, EventInvoices]]:
    """The ``invoices`` callable billing's reconciliation takes (the gateway wires it)."""

    def lookup(event_ids: Sequence[str]) -> dict[str, EventInvoices]:
        with session_factory() as session:
            return invoices_by_event(session, event_ids)

    return lookup


def totals_by_lot_day(
    session: Session,
    date_from: date,
    date_to: date,
    lot_id: str | None = None,
) -> list[LotDayTotals]:
    """Invoices per lot and invoice date (all kinds: corrections count with their sign)."""
    stmt = select(
        invoices.c.lot_id,
        invoices.c.issue_date,
        func.count(),
        func.sum(invoices.c.total_vnd),
        func.sum(invoices.c.pretax_vnd),
        func.sum(invoices.c.vat_vnd),
        func.sum(case((invoices.c.status == ACCEPTED, 1), else_=0)),
        func.sum(case((invoices.c.status == REJECTED, 1), else_=0)),
        func.sum(case((invoices.c.status.in_((SIGNED, SENT)), 1), else_=0)),
    ).where(invoices.c.issue_date >= date_from, invoices.c.issue_date <= date_to)
    if lot_id is not None:
        stmt = stmt.where(invoices.c.lot_id == lot_id)
    stmt = stmt.group_by(invoices.c.lot_id, invoices.c.issue_date).order_by(
        invoices.c.issue_date, invoices.c.lot_id
    )
    return [
        LotDayTotals(lot, day, int(n), int(total), int(pre), int(vat), int(a), int(r), int(p))
        for lot, day, n, total, pre, vat, a, r, p in session.execute(stmt)
    ]
