"""The invoicing part of the composition root: einvoice's one InvoicingService, from Settings.

One builder for every place that issues invoices: the service's invoice loop
(``gateway.bootstrap.build_invoice_services``: ``parking worker`` and ``parking demo``) and
``parking einvoice issue`` (``gateway.cli.einvoice``). It injects billing's outbox, which einvoice
may not import, so invoice requests and refunds (``invoice_adjustment``) are consumed wherever
invoices are issued. A light module: it needs the einvoice extra, not the gateway's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from gateway.settings import Settings

if TYPE_CHECKING:
    from einvoice.service import InvoicingService


def build_invoicing(
    settings: Settings, session_factory: sessionmaker[Session], *, send: bool = True
) -> InvoicingService:
    """Workers for invoice requests and corrections, and (with ``send``) the submitter.

    Signing key: ``PARKING_SIGNING_PKCS12`` when set, else demo keys under the data directory,
    one certificate per seller MST, made on first use.
    """
    from billing.adapters import outbox
    from einvoice.service import build_service

    return build_service(
        session_factory,
        outbox,
        authority_url=settings.tax_authority_url if send else None,
        pkcs12=settings.signing_pkcs12,
        pkcs12_password=settings.signing_pkcs12_password,
        keys_dir=settings.data_dir / "keys",
    )
