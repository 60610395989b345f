"""The worker's invoice maker: request + identity -> model -> HDon XML -> seller signature.

Glue between the numbering side (which decides template, series, number, code and time) and the
document side (:mod:`einvoice.model`, :mod:`einvoice.xml_build`, :mod:`einvoice.signing`).
Corrections come through here too: a replacing invoice is a whole new invoice that names the
original; a downward adjustment (a refund) carries negative amounts, as the rules ask.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from billing.domain.events import InvoiceRequested
from einvoice import model, xml_build
from einvoice.invoice_request import invoice_from_request
from einvoice.monthly import consolidated_invoice
from einvoice.signing import Signer
from einvoice.worker import InvoiceIdentity, SignedInvoice


class SignerMismatch(ValueError):
    """No key whose certificate carries the seller's tax code: the authority would refuse it."""


@dataclass
class XmlInvoiceMaker:
    signer: Signer | None
    # Further sellers (one gateway may invoice for several operators), by tax code.
    other_signers: Mapping[str, Signer] = field(default_factory=dict)
    provider_tax_code: str | None = None
    # Where to find a key for a seller not listed above (the demo makes one per seller).
    fallback: Callable[[str], Signer] | None = None

    def signer_for(self, tax_code: str) -> Signer:
        signer = self.other_signers.get(tax_code, self.signer)
        if (signer is None or signer.tax_code != tax_code) and self.fallback is not None:
            signer = self.fallback(tax_code)
            self.other_signers = {**self.other_signers, tax_code: signer}
        if signer is None or signer.tax_code != tax_code:
            raise SignerMismatch(
                f"no signing key for seller MST {tax_code}"
                + (f" (key is for {signer.tax_code})" if signer is not None else "")
            )
        return signer

    def invoice(
        self, request: InvoiceRequested, identity: InvoiceIdentity, *, downward: bool = False
    ) -> model.Invoice:
        """The invoice for ``request``; ``downward``: an adjustment that takes its fare back."""
        invoice = invoice_from_request(
            request,
            number=identity.number,
            issued_at=identity.issued_at,
            series=identity.series,
            template=identity.template,
            mccqt=identity.mccqt,
            provider_tax_code=self.provider_tax_code,
            original=identity.original,
        )
        return _negated(invoice, identity) if downward else invoice

    def __call__(
        self, request: InvoiceRequested, identity: InvoiceIdentity, *, downward: bool = False
    ) -> SignedInvoice:
        return self._signed(self.invoice(request, identity, downward=downward), identity)

    def consolidated(
        self, requests: Sequence[InvoiceRequested], identity: InvoiceIdentity, period: str
    ) -> SignedInvoice:
        """A month's consolidated invoice for one account (einvoice.monthly), signed."""
        invoice = consolidated_invoice(
            requests,
            template=identity.template,
            series=identity.series,
            number=identity.number,
            issued_at=identity.issued_at,
            period=period,
            mccqt=identity.mccqt,
            provider_tax_code=self.provider_tax_code,
        )
        return self._signed(invoice, identity)

    def _signed(self, invoice: model.Invoice, identity: InvoiceIdentity) -> SignedInvoice:
        signer = self.signer_for(invoice.seller.tax_code)
        xml = signer.sign_seller(xml_build.hdon_text(invoice), signing_time=identity.issued_at)
        rates = {line.vat_rate for line in invoice.lines}
        return SignedInvoice(
            xml=xml,
            pretax_vnd=invoice.totals.pre_tax,
            vat_vnd=invoice.totals.vat,
            total_vnd=invoice.totals.total,
            vat_rate=",".join(sorted(rates)),
        )


def _negated(invoice: model.Invoice, identity: InvoiceIdentity) -> model.Invoice:
    """A downward adjustment: the same line with negative amounts and a label saying so."""
    note = identity.original.note if identity.original else ""
    lines = tuple(
        dataclasses.replace(
            line,
            name=f"Điều chỉnh giảm: {line.name}" + (f" ({note})" if note else ""),
            pre_tax=-line.pre_tax,
            vat=-line.vat,
            unit_price=-line.effective_unit_price,
            quantity=Decimal(1) if line.quantity == 0 else line.quantity,
        )
        for line in invoice.lines
    )
    return dataclasses.replace(invoice, lines=lines, totals=model.Totals.of(lines))
