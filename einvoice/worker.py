"""The invoice worker: turns ``invoice_request`` outbox rows into numbered, signed invoices.

One outbox row, one transaction: claim the row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers share the queue), take the next number, build and sign the XML, store it with
its first status, mark the row processed, commit. A crash anywhere before the commit leaves the
row unprocessed and the number untaken, so the row is simply done again; a row whose event
already has an invoice is only marked processed, so no event ever gets two.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from billing.domain.events import INVOICE_REQUEST, InvoiceRequested
from billing.domain.model import Seller
from einvoice import numbering
from einvoice.db import AUTHORITY_CODED, CASH_REGISTER, ORIGINAL, SIGNED, invoices, status_history
from einvoice.lookup_codes import new_lookup_code
from einvoice.model import LOCAL_TZ, OriginalInvoice
from einvoice.monthly import ConsolidatingMaker, defer, due_periods, is_monthly, issue_month

log = logging.getLogger(__name__)


class InvoiceRequestError(ValueError):
    """An outbox payload that cannot become an invoice (missing or invalid field)."""


@dataclass(frozen=True)
class InvoiceIdentity:
    """Everything the database decides about an invoice before it is built."""

    template: str
    series: str
    number: int
    issued_at: datetime
    mccqt: str | None
    original: OriginalInvoice | None = None  # what a correction replaces or adjusts

    @property
    def issue_date(self) -> date:
        return self.issued_at.astimezone(LOCAL_TZ).date()


@dataclass(frozen=True)
class SignedInvoice:
    xml: bytes
    pretax_vnd: int
    vat_vnd: int
    total_vnd: int
    vat_rate: str


class InvoiceMaker(Protocol):
    """Builds and signs the XML of one invoice (see :mod:`einvoice.maker`); ``downward``: an
    adjusting invoice that takes the request's fare back (a refund)."""

    def __call__(
        self, request: InvoiceRequested, identity: InvoiceIdentity, *, downward: bool = False
    ) -> SignedInvoice: ...


@runtime_checkable
class OutboxPort(Protocol):
    """The part of ``billing.adapters.outbox`` the workers use (injected by the bootstrap)."""

    def claim(self, session: Session, kind: str, limit: int) -> Any: ...

    def mark_processed(self, session: Session, row_id: int) -> Any: ...

    def mark_failed(self, session: Session, row_id: int, error: str) -> Any:
        """Keep the row pending, count the attempt and remember why it failed."""


@dataclass(frozen=True)
class SellerRegistration:
    """How the seller is registered for invoicing: template, series, mode, cash-register code."""

    name: str
    tax_code: str
    template: str
    series_hint: str
    mode: str
    register_code: str | None


@dataclass(frozen=True)
class IssueResult:
    row_id: int | None
    event_id: str
    invoice_id: int | None
    outcome: str  # issued | duplicate | deferred (to the monthly invoice) | failed
    error: str | None = None


def row_fields(row: Any) -> tuple[int, dict[str, Any]]:
    """(id, payload) of an outbox row, whether ORM object, Row or mapping."""
    if isinstance(row, Mapping):
        row_id, payload = row["id"], row["payload"]
    else:
        mapping = getattr(row, "_mapping", None)
        if mapping is not None and "payload" in mapping:
            row_id, payload = mapping["id"], mapping["payload"]
        else:
            row_id, payload = row.id, row.payload
    if isinstance(payload, str | bytes):
        payload = json.loads(payload)
    if not isinstance(payload, dict):
        raise InvoiceRequestError("outbox payload is not a JSON object")
    return int(row_id), payload


def registration_of(seller: Seller) -> SellerRegistration:
    """How billing's seller (an invoice request's) is numbered."""
    mode = seller.invoice_mode.value
    if mode not in (CASH_REGISTER, AUTHORITY_CODED):
        raise InvoiceRequestError(f"unknown invoice_mode {mode!r}")
    if mode == CASH_REGISTER and not seller.cash_register_code:
        raise InvoiceRequestError("cash-register seller without cash_register_code")
    return SellerRegistration(
        name=seller.name,
        tax_code=seller.tax_code,
        template=numbering.template_symbol(seller.invoice_template or "1"),
        series_hint=seller.invoice_series,
        mode=mode,
        register_code=seller.cash_register_code or None,
    )


class YearTurned(RuntimeError):
    """The year ended while waiting for the counter; the transaction is retried."""


def take_identity(
    session: Session,
    seller: SellerRegistration,
    clock: Callable[[], datetime],
    original: OriginalInvoice | None = None,
) -> InvoiceIdentity:
    """Number (and, for a cash register, code) the invoice in the caller's transaction.

    The invoice's time is read *after* the counter row is locked: a worker that waited for
    another one's commit gets a later time than it, so dates never go backwards as numbers go
    up (the authority rejects that), even across midnight.
    """
    year = clock().astimezone(LOCAL_TZ).year
    series = numbering.series_symbol(seller.series_hint, seller.mode, year)
    number = numbering.next_invoice_number(session, seller.template, series, year)
    mccqt = None
    if seller.mode == CASH_REGISTER:
        assert seller.register_code is not None
        mccqt = numbering.cash_register_mccqt(session, seller.template, year, seller.register_code)
    now = clock()
    if now.astimezone(LOCAL_TZ).year != year:
        raise YearTurned(f"{year} ended while numbering; retrying in the new year")
    return InvoiceIdentity(seller.template, series, number, now, mccqt, original)


class _Unset:
    """Marks a keyword left out (None is a value: no lot, no plate)."""


UNSET = _Unset()


def store_invoice(
    session: Session,
    *,
    request_key: str,
    event_id: str | None,
    request: InvoiceRequested,
    seller: SellerRegistration,
    identity: InvoiceIdentity,
    signed: SignedInvoice,
    kind: str = ORIGINAL,
    related_invoice_id: int | None = None,
    payload: dict[str, Any] | None = None,
    lot_id: str | _Unset | None = UNSET,
    plate: str | _Unset | None = UNSET,
) -> int:
    """Store a signed invoice made from ``request`` (a consolidated one passes its own
    ``payload``, ``lot_id`` and ``plate``)."""
    buyer = request.buyer
    now = identity.issued_at
    invoice_id = session.execute(
        insert(invoices)
        .values(
            request_key=request_key,
            event_id=event_id,
            kind=kind,
            related_invoice_id=related_invoice_id,
            mode=seller.mode,
            template=identity.template,
            series=identity.series,
            year=identity.issued_at.astimezone(LOCAL_TZ).year,
            number=identity.number,
            issue_date=identity.issue_date,
            issued_at=now,
            mccqt=identity.mccqt,
            lookup_code=new_lookup_code(),
            seller_tax_code=seller.tax_code,
            seller_name=seller.name,
            buyer_account_id=str(buyer.account_id),
            buyer_name=buyer.name,
            buyer_tax_code=buyer.tax_code,
            buyer_email=buyer.email,
            lot_id=request.lot_id if isinstance(lot_id, _Unset) else lot_id,
            plate=request.plate if isinstance(plate, _Unset) else plate,
            pretax_vnd=signed.pretax_vnd,
            vat_vnd=signed.vat_vnd,
            total_vnd=signed.total_vnd,
            vat_rate=signed.vat_rate,
            payload=request.to_payload() if payload is None else payload,
            status=SIGNED,
            xml=signed.xml,
            submit_attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        .returning(invoices.c.id)
    ).scalar_one()
    session.execute(
        insert(status_history).values(invoice_id=invoice_id, status=SIGNED, at=now, detail=None)
    )
    return int(invoice_id)


@dataclass
class InvoiceWorker:
    """Issues invoices for ``invoice_request`` rows; run several in parallel on PostgreSQL."""

    session_factory: sessionmaker[Session]
    maker: InvoiceMaker
    outbox: OutboxPort  # billing's outbox (billing.adapters.outbox), injected by the bootstrap
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    kind: str = INVOICE_REQUEST
    # A failing row is tried at most once a pass, then again after a growing pause (per worker).
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    monotonic: Callable[[], float] = time.monotonic
    # Passages of accounts with the monthly option wait for their month's invoice, which this
    # worker issues once the month has ended (checked every ``monthly_every_seconds``).
    consolidate: bool = True
    monthly_every_seconds: float = 60.0
    _retry: dict[int, tuple[int, float]] = field(default_factory=dict, init=False, repr=False)
    _monthly_at: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # Checked here, not when the first row fails: a failure it could not record would
        # leave the row retried with no trace of why.
        if not isinstance(self.outbox, OutboxPort):
            raise TypeError(
                f"{self.outbox!r} is not an outbox: claim, mark_processed and mark_failed needed"
            )

    def run_once(self, max_rows: int = 1000) -> list[IssueResult]:
        """Issue until the queue is empty (or ``max_rows``), leaving out rows in their pause."""
        results: list[IssueResult] = []
        now = self.monotonic()
        skip = {rid for rid, (_, at) in self._retry.items() if at > now}
        while len(results) < max_rows:
            result = self.issue_next(skip=skip)
            if result is None:
                break
            if result.row_id is not None:
                if result.outcome == "failed":
                    failures = self._retry.get(result.row_id, (0, 0.0))[0] + 1
                    pause = min(
                        self.retry_max_seconds, self.retry_base_seconds * 2 ** (failures - 1)
                    )
                    self._retry[result.row_id] = (failures, now + pause)
                    skip.add(result.row_id)
                else:
                    self._retry.pop(result.row_id, None)
            results.append(result)
        self._monthly_due(now)
        return results

    def _monthly_due(self, now: float) -> None:
        """Issue the consolidated invoices of ended months, at most once a period."""
        if not self.consolidate or self.kind != INVOICE_REQUEST:
            return
        if not isinstance(self.maker, ConsolidatingMaker):
            return
        if self._monthly_at is not None and now - self._monthly_at < self.monthly_every_seconds:
            return
        self._monthly_at = now
        try:
            with self.session_factory() as session:
                periods = due_periods(session, self.clock())
            for period in periods:
                issue_month(self.session_factory, self.maker, period, clock=self.clock)
        except Exception:
            log.exception("monthly invoices failed; tried again later")

    def issue_next(self, skip: set[int] | frozenset[int] = frozenset()) -> IssueResult | None:
        """Claim one row and issue its invoice in one transaction; None when nothing is left."""
        row_id: int | None = None
        event_id = "?"
        try:
            with self.session_factory.begin() as session:
                rows = list(self.outbox.claim(session, self.kind, len(skip) + 1))
                picked = None
                for row in rows:
                    rid, payload = row_fields(row)
                    if rid not in skip:
                        picked, row_id = payload, rid
                        break
                if picked is None:
                    return None
                event_id = str(picked.get("event_id") or picked.get("original_event_id") or "")
                if not event_id:
                    raise InvoiceRequestError("payload has no event_id")
                result = self._issue(session, row_id, event_id, picked)  # type: ignore[arg-type]
            return result
        except IntegrityError as exc:
            # Another worker stored this event's invoice first; the next pass marks it done.
            log.warning(
                "invoice for event %s raced another worker: %s",
                event_id,
                exc.orig,
                extra={"event_id": event_id},
            )
            return IssueResult(row_id, event_id, None, "failed", "duplicate race")
        except Exception as exc:
            if isinstance(exc, ValueError):  # bad data or a missing key: no traceback needed
                log.error(
                    "invoice request %s (event %s) failed: %s",
                    row_id,
                    event_id,
                    exc,
                    extra={"event_id": event_id or None},
                )
            else:
                log.exception(
                    "invoice request %s (event %s) failed",
                    row_id,
                    event_id,
                    extra={"event_id": event_id or None},
                )
            if row_id is None:
                raise
            self._record_failure(row_id, f"{type(exc).__name__}: {exc}")
            return IssueResult(row_id, event_id, None, "failed", f"{type(exc).__name__}: {exc}")

    def _issue(
        self, session: Session, row_id: int, event_id: str, payload: dict[str, Any]
    ) -> IssueResult:
        existing = session.execute(
            select(invoices.c.id).where(invoices.c.request_key == event_id)
        ).scalar_one_or_none()
        if existing is not None:
            self.outbox.mark_processed(session, row_id)
            return IssueResult(row_id, event_id, int(existing), "duplicate")
        request = InvoiceRequested.from_payload(payload)
        if self.consolidate and is_monthly(request):
            # The account takes one invoice a month: the passage waits for it (einvoice.monthly).
            defer(session, event_id, request, self.clock())
            self.outbox.mark_processed(session, row_id)
            log.info("event %s waits for its monthly invoice", event_id)
            return IssueResult(row_id, event_id, None, "deferred")
        seller = registration_of(request.seller)
        identity = take_identity(session, seller, self.clock)
        signed = self.maker(request, identity)
        invoice_id = store_invoice(
            session,
            request_key=event_id,
            event_id=event_id,
            request=request,
            seller=seller,
            identity=identity,
            signed=signed,
        )
        self.outbox.mark_processed(session, row_id)
        log.info(
            "invoice %s %s/%s no %d for event %s",
            invoice_id,
            identity.template,
            identity.series,
            identity.number,
            event_id,
            extra={"event_id": event_id},  # a structured field too, like a passage's lines
        )
        return IssueResult(row_id, event_id, invoice_id, "issued")

    def _record_failure(self, row_id: int, error: str) -> None:
        try:
            with self.session_factory.begin() as session:
                self.outbox.mark_failed(session, row_id, error)
        except Exception:
            log.exception("could not record the failure of outbox row %s", row_id)
