"""One invoicing cycle: issue from the outbox, issue corrections, send at once, resend what is due.

The composition root (``gateway.invoicing``: the service's invoice loop, ``parking worker``, the
demo and ``parking einvoice issue``) builds the one :class:`InvoicingService` with
:func:`build_service`, billing's outbox injected, and calls :meth:`run_once` in a loop; any
number of processes may do so on PostgreSQL (the outbox and the invoices are taken with SKIP
LOCKED). Both outbox kinds are consumed here: ``invoice_request`` (exits, passes) and
``invoice_adjustment`` (refunds and corrections).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from einvoice.client import TaxAuthorityClient
from einvoice.corrections import CorrectionWorker
from einvoice.maker import XmlInvoiceMaker
from einvoice.signing import Signer
from einvoice.submitter import RetryPolicy, SubmitSummary, Submitter
from einvoice.worker import InvoiceWorker, IssueResult, OutboxPort

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleReport:
    issued: tuple[IssueResult, ...]
    corrections: tuple[IssueResult, ...]
    sent: SubmitSummary | None

    @property
    def idle(self) -> bool:
        return not self.issued and not self.corrections and not (self.sent and self.sent.messages)


@dataclass
class InvoicingService:
    worker: InvoiceWorker
    corrections: CorrectionWorker
    submitter: Submitter | None
    on_close: Callable[[], None] | None = None

    def run_once(self) -> CycleReport:
        issued = tuple(self.worker.run_once())
        corrected = tuple(self.corrections.run_once())
        sent = None
        if self.submitter is not None:
            new = [r.invoice_id for r in (*issued, *corrected) if r.outcome == "issued"]
            # New invoices at once; then whatever is due for a retry.
            first = self.submitter.submit_due(invoice_ids=[i for i in new if i is not None])
            due = self.submitter.submit_due()
            sent = SubmitSummary(
                first.messages + due.messages,
                first.accepted + due.accepted,
                first.rejected + due.rejected,
                first.pending + due.pending,
            )
        return CycleReport(issued, corrected, sent)

    def close(self) -> None:
        """Close what :func:`build_service` opened (the connection to the tax authority)."""
        if self.on_close is not None:
            self.on_close()

    def run_forever(self, stop: threading.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:  # a cycle must never kill the loop; the next one retries
                log.exception("invoicing cycle failed")
                report = None
            if report is None or report.idle:
                stop.wait(interval)


def demo_signers(keys_dir: Path) -> XmlInvoiceMaker:
    """A maker that signs with demo keys made on first use, one certificate per seller MST."""
    from einvoice.keys import ensure_demo_keys

    def for_seller(tax_code: str) -> Signer:
        keys = ensure_demo_keys(keys_dir, tax_code)
        return Signer.from_pkcs12(keys.seller_pkcs12, keys.password)

    return XmlInvoiceMaker(None, fallback=for_seller)


def build_service(
    session_factory: sessionmaker[Session],
    outbox: OutboxPort,
    *,
    authority_url: str | None,
    pkcs12: Path | None = None,
    pkcs12_password: str | None = None,
    keys_dir: Path | None = None,
    sender: str = "PARKING",
    policy: RetryPolicy | None = None,
    timeout: float = 10.0,
) -> InvoicingService:
    """Wire the workers and the submitter on ``outbox`` (billing's). Without ``pkcs12`` the
    demo keys under ``keys_dir`` sign; without ``authority_url`` invoices are issued, not sent."""
    if pkcs12 is not None:
        maker = XmlInvoiceMaker(Signer.from_pkcs12(pkcs12, pkcs12_password))
    elif keys_dir is not None:
        maker = demo_signers(keys_dir)
    else:
        raise ValueError("either a PKCS#12 file or a demo keys directory is needed to sign")
    submitter = client = None
    if authority_url:
        client = TaxAuthorityClient(authority_url, timeout=timeout)
        submitter = Submitter(
            session_factory, client, sender=sender, policy=policy or RetryPolicy()
        )
    return InvoicingService(
        InvoiceWorker(session_factory, maker, outbox=outbox),
        CorrectionWorker(session_factory, maker, outbox=outbox),
        submitter,
        on_close=client.close if client is not None else None,
    )
