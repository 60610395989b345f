"""Corrections of issued invoices: adjusting (TCHDon 2) and replacing (TCHDon 1) invoices.

Plain cancellation is gone for new invoices, so a refund becomes an adjusting invoice with
negative amounts, and a wrong plate (or buyer) a replacing invoice with the corrected data; both
name the original by template, series, number and date. A correction is numbered, signed and
stored like any invoice, in the caller's transaction, once per ``request_key``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from einvoice.db import ADJUSTING, REJECTED, REPLACING, invoices
from einvoice.model import OriginalInvoice
from einvoice.worker import (
    InvoiceMaker,
    InvoiceRequestError,
    InvoiceWorker,
    IssueResult,
    parse_seller,
    store_invoice,
    take_identity,
)

log = logging.getLogger(__name__)

INVOICE_ADJUSTMENT = "invoice_adjustment"
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


def correction_from_adjustment(payload: Mapping[str, Any], key: str | None = None) -> Correction:
    """An ``invoice_adjustment`` outbox payload: a refund, or a corrected plate/buyer."""
    original = payload.get("original_event_id")
    if not original:
        raise InvoiceRequestError("invoice_adjustment without original_event_id")
    request_key = "adjustment:" + str(key or payload.get("journal_entry_id") or "")
    if request_key == "adjustment:":
        raise InvoiceRequestError("invoice_adjustment without journal_entry_id")
    reason = str(payload.get("reason") or "")
    changes = {k: payload[k] for k in REPLACEABLE if k in payload and k != "fare_vnd"}
    if changes:
        return Correction(
            request_key, REPLACING, reason, original_event_id=str(original), changes=changes
        )
    amount = payload.get("amount_vnd")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvoiceRequestError(f"amount_vnd must be a positive integer, not {amount!r}")
    return Correction(
        request_key, ADJUSTING, reason, original_event_id=str(original), delta_vnd=-amount
    )


def current_invoice(session: Session, correction: Correction) -> Any:
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
    row = session.execute(stmt).one_or_none()
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
    payload: dict[str, Any] = dict(original.payload)
    payload.pop("vat_percent", None)
    rate = original.vat_rate.rstrip("%")
    if rate.isdigit():
        payload["vat_percent"] = int(rate)
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
        payload["fare_vnd"] = delta
    elif correction.kind == REPLACING:
        unknown = set(correction.changes) - set(REPLACEABLE)
        if unknown:
            raise CorrectionError(f"cannot replace fields {sorted(unknown)}")
        payload.update(correction.changes)
    else:
        raise CorrectionError(f"unknown correction kind {correction.kind!r}")
    seller = parse_seller(payload)
    reference = OriginalInvoice(
        relation=TCHDON[correction.kind],
        template=original.template,
        series=original.series,
        number=original.number,
        issued_on=original.issue_date,
        note=correction.reason[:255] or None,
    )
    identity = take_identity(session, seller, clock, reference)
    signed = maker(payload, identity)
    invoice_id = store_invoice(
        session,
        request_key=correction.request_key,
        event_id=original.event_id,
        payload=payload,
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
        correction = correction_from_adjustment(payload)
        invoice_id, created = issue_correction(session, self.maker, correction, self.clock)
        self.outbox.mark_processed(session, row_id)
        return IssueResult(row_id, event_id, invoice_id, "issued" if created else "duplicate")
