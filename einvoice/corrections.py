"""Corrections of issued invoices: adjusting (TCHDon 2) and replacing (TCHDon 1) invoices.

Plain cancellation is gone for new invoices, so a refund becomes an adjusting invoice with
negative amounts, and a wrong plate (or buyer) a replacing invoice with the corrected data; both
name the original by template, series, number and date. A correction is numbered, signed and
stored like any invoice, in the caller's transaction, once per ``request_key``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.domain.events import INVOICE_ADJUSTMENT, InvoiceAdjustmentRequested, InvoiceRequested
from einvoice.db import ADJUSTING, REJECTED, REPLACING, invoices, monthly_items
from einvoice.model import OriginalInvoice
from einvoice.worker import (
    InvoiceMaker,
    InvoiceRequestError,
    InvoiceWorker,
    IssueResult,
    registration_of,
    store_invoice,
    take_identity,
)

log = logging.getLogger(__name__)

# Fields a replacing invoice may change; the rest comes from the original request.
REPLACEABLE = ("plate", "vehicle_class", "fare_vnd", "buyer", "lot_name", "entry_at", "exit_at")
# TCHDon: what the correcting invoice does to the original.
TCHDON: dict[str, Literal[1, 2]] = {REPLACING: 1, ADJUSTING: 2}


class CorrectionError(ValueError):
    """The correction cannot be made (no original yet, amount too large, ...)."""


@dataclass(frozen=True)
class Correction:
    request_key: str  # idempotency: one correction per key
    kind: str  # ADJUSTING | REPLACING
    reason: str
    original_invoice_id: int | None = None
    original_event_id: str | None = None
    # ADJUSTING: signed change of the amount payable; a refund of 5,000 VND is -5000.
    delta_vnd: int | None = None
    # REPLACING: corrected fields of the original request (see REPLACEABLE).
    changes: Mapping[str, Any] = field(default_factory=dict)


def correction_from_adjustment(event: InvoiceAdjustmentRequested) -> Correction:
    """Billing's ``invoice_adjustment``: a refund, or a corrected plate/buyer (``changes``).

    One correction per adjustment: its request key is ``adjustment:<journal entry id>``.
    """
    original = event.original_event_id
    request_key = f"adjustment:{event.journal_entry_id}"
    changes = {k: v for k, v in event.changes.items() if k != "fare_vnd"}
    if changes:
        return Correction(
            request_key, REPLACING, event.reason, original_event_id=original, changes=changes
        )
    if event.amount_vnd is None:
        raise InvoiceRequestError("invoice_adjustment without amount_vnd or changes")
    refund = -event.amount_vnd
    return Correction(
        request_key, ADJUSTING, event.reason, original_event_id=original, delta_vnd=refund
    )


class InvoiceToCorrect(Protocol):
    """The columns of an ``einvoice_invoices`` row that a correction reads."""

    @property
    def id(self) -> int: ...
    @property
    def event_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def template(self) -> str: ...
    @property
    def series(self) -> str: ...
    @property
    def number(self) -> int: ...
    @property
    def issue_date(self) -> date: ...
    @property
    def total_vnd(self) -> int: ...
    @property
    def vat_rate(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, object]: ...


def current_invoice(session: Session, correction: Correction) -> InvoiceToCorrect:
    """The invoice to correct: the original, or the last invoice that replaced it."""
    stmt = select(invoices)
    if correction.original_invoice_id is not None:
        stmt = stmt.where(invoices.c.id == correction.original_invoice_id)
    elif correction.original_event_id is not None:
        stmt = stmt.where(
            invoices.c.request_key == correction.original_event_id,
        )
    else:
        raise CorrectionError("a correction names its original invoice or event")
    row: InvoiceToCorrect | None = session.execute(stmt).one_or_none()
    if row is None and correction.original_event_id is not None:
        row = _consolidated_invoice_of(session, correction.original_event_id)
    if row is None:
        raise CorrectionError(
            f"no invoice yet for {correction.original_invoice_id or correction.original_event_id}"
        )
    while True:
        replacement = session.execute(
            select(invoices)
            .where(invoices.c.related_invoice_id == row.id, invoices.c.kind == REPLACING)
            .order_by(invoices.c.id.desc())
            .limit(1)
        ).one_or_none()
        if replacement is None:
            return row
        row = replacement


def _consolidated_invoice_of(session: Session, event_id: str) -> InvoiceToCorrect | None:
    """The month's consolidated invoice a passage went on (None: not issued yet, so the
    correction waits for it)."""
    invoice_id = session.execute(
        select(monthly_items.c.invoice_id).where(monthly_items.c.request_key == event_id)
    ).scalar_one_or_none()
    if invoice_id is None:
        return None
    return session.execute(select(invoices).where(invoices.c.id == invoice_id)).one()


def _request_of(
    session: Session, original: InvoiceToCorrect, correction: Correction
) -> InvoiceRequested:
    """What the correction starts from: the original's request, or, for a passage on a
    consolidated invoice, that passage's own (only an adjustment can take part of a month)."""
    if "monthly" not in original.payload:
        return InvoiceRequested.from_payload(original.payload)
    if correction.kind != ADJUSTING or correction.original_event_id is None:
        raise CorrectionError(
            f"invoice {original.id} consolidates a month: only a passage's amount can be adjusted"
        )
    payload = session.execute(
        select(monthly_items.c.payload).where(
            monthly_items.c.request_key == correction.original_event_id
        )
    ).scalar_one()
    return InvoiceRequested.from_payload(payload)


def net_total(session: Session, invoice_id: int, total_vnd: int) -> int:
    adjusted = session.execute(
        select(func.coalesce(func.sum(invoices.c.total_vnd), 0)).where(
            invoices.c.related_invoice_id == invoice_id, invoices.c.kind == ADJUSTING
        )
    ).scalar_one()
    return total_vnd + int(adjusted)


def issue_correction(
    session: Session,
    maker: InvoiceMaker,
    correction: Correction,
    clock: Callable[[], datetime],
) -> tuple[int, bool]:
    """Issue the correction in the caller's transaction: (invoice id, created)."""
    existing = session.execute(
        select(invoices.c.id).where(invoices.c.request_key == correction.request_key)
    ).scalar_one_or_none()
    if existing is not None:
        return int(existing), False
    original = current_invoice(session, correction)
    if original.status == REJECTED:
        raise CorrectionError(f"invoice {original.id} was rejected: it cannot be corrected")
    request, downward = _corrected_request(session, original, correction)
    seller = registration_of(request.seller)
    reference = OriginalInvoice(
        relation=TCHDON[correction.kind],
        template=original.template,
        series=original.series,
        number=original.number,
        issued_on=original.issue_date,
        note=correction.reason[:255] or None,
    )
    identity = take_identity(session, seller, clock, reference)
    signed = maker(request, identity, downward=downward)
    invoice_id = store_invoice(
        session,
        request_key=correction.request_key,
        # A passage on a month's invoice: the correction names the passage itself.
        event_id=original.event_id or correction.original_event_id,
        request=request,
        seller=seller,
        identity=identity,
        signed=signed,
        kind=correction.kind,
        related_invoice_id=original.id,
    )
    log.info(
        "%s invoice %s (%s/%s no %d) for invoice %s: %s",
        correction.kind,
        invoice_id,
        identity.template,
        identity.series,
        identity.number,
        original.id,
        correction.reason,
    )
    return invoice_id, True


def _corrected_request(
    session: Session, original: InvoiceToCorrect, correction: Correction
) -> tuple[InvoiceRequested, bool]:
    """What the correcting invoice says: the delta of an adjustment, or the replaced fields.

    The second value is True for an adjustment downward (the invoice's amounts print negative).
    """
    request = _request_of(session, original, correction)
    rate = original.vat_rate.rstrip("%")
    if rate.isdigit():  # a correction keeps the rate the original was invoiced at
        request = dataclasses.replace(request, vat_percent=int(rate))
    if correction.kind == ADJUSTING:
        delta = correction.delta_vnd
        if not isinstance(delta, int) or delta == 0:
            raise CorrectionError("an adjustment needs a non-zero delta_vnd")
        remaining = net_total(session, original.id, original.total_vnd)
        if remaining + delta < 0:
            raise CorrectionError(
                f"adjustment of {delta} VND exceeds the {remaining} VND left on invoice "
                f"{original.id}"
            )
        return dataclasses.replace(request, fare_vnd=abs(delta)), delta < 0
    if correction.kind == REPLACING:
        unknown = set(correction.changes) - set(REPLACEABLE)
        if unknown:
            raise CorrectionError(f"cannot replace fields {sorted(unknown)}")
        return InvoiceRequested.from_payload({**request.to_payload(), **correction.changes}), False
    raise CorrectionError(f"unknown correction kind {correction.kind!r}")


def correct(
    session_factory: sessionmaker[Session],
    maker: InvoiceMaker,
    correction: Correction,
    now: datetime | None = None,
) -> int:
    """Issue one correction in its own transaction (for the API and the CLI)."""
    with session_factory.begin() as session:
        invoice_id, _ = issue_correction(
            session, maker, correction, (lambda: now) if now else (lambda: datetime.now(UTC))
        )
    return invoice_id


@dataclass
class CorrectionWorker(InvoiceWorker):
    """Consumes ``invoice_adjustment`` outbox rows: one correction per row, like the worker."""

    kind: str = INVOICE_ADJUSTMENT

    def _issue(
        self, session: Session, row_id: int, event_id: str, payload: dict[str, Any]
    ) -> IssueResult:
        event = InvoiceAdjustmentRequested.from_payload(payload, REPLACEABLE)
        correction = correction_from_adjustment(event)
        invoice_id, created = issue_correction(session, self.maker, correction, self.clock)
        self.outbox.mark_processed(session, row_id)
        return IssueResult(row_id, event_id, invoice_id, "issued" if created else "duplicate")
