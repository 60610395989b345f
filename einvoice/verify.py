"""Verify every XML-DSig signature of an invoice file, as real providers write them.

Accepted on purpose (see docs "Verifying real invoices"): RSA-SHA1 and RSA-SHA256 (and the other
common digests), inclusive C14N 1.0 with or without comments for SignedInfo, references with the
default C14N or an explicit one, ``Id`` attributes without a DTD, ``SigningTime`` in any namespace
or none, ``ds:`` prefixes or a default namespace, a bare ``HDon`` or ``TDiep/DLieu/HDon``, a BOM, no
declaration, a stylesheet PI. The enveloped-signature transform follows .NET: it removes the
signature only when it lies inside the referenced subtree (so a reference to the signature's own
Object with that transform still verifies, as real invoices do).

Rejected: any change to the signed bytes (whitespace included), a certificate that was not valid
at the signing time, references that do not cover the invoice's data (DLHDon; MCCQT for the
authority), duplicate Ids, external references. The signer's tax code comes from the certificate
subject, never from the unsigned X509SubjectName.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from cryptography import x509
from lxml import etree

from einvoice.c14n import canonicalize
from einvoice.certs import (
    chain_trusted,
    check_signature_value,
    identity,
    load_cert,
    parse_time,
)
from einvoice.dsig import CANONICALIZATIONS, DSIG, SIGNATURE_METHODS
from einvoice.keys import tax_code_of
from einvoice.model import LOCAL_TZ
from einvoice.references import (
    IdContext,
    Invalid,
    b64,
    child,
    digest_reference,
    hdon_of,
    is_inside,
    is_named,
    kid,
    kid_text,
    role_of,
)
from einvoice.xmlsafe import MAX_XML_BYTES, XMLRejected, parse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignatureReport:
    role: str  # "seller" | "authority" | "unknown"
    valid: bool
    algorithm: str | None  # e.g. "rsa-sha256"
    signer_tax_code: str | None  # from the certificate subject
    signing_time: datetime | None  # from the signed SigningTime, aware
    reason: str | None  # why it failed; None when valid
    subject: str | None = None  # certificate subject (RFC 4514)
    serial: str | None = None  # certificate serial, hex
    digest: str | None = None  # digest algorithm of the references, e.g. "sha1"
    trusted: bool | None = None  # chains to a given trust anchor; None when none was given
    invoice: str | None = None  # template+series-number of the HDon it belongs to


@dataclass(frozen=True)
class VerificationReport:
    valid: bool
    error: str | None
    signatures: tuple[SignatureReport, ...] = field(default_factory=tuple)


def _signing_time(sig: etree._Element, covered: Sequence[etree._Element | None]) -> datetime | None:
    for target in covered:
        if target is None or not is_inside(target, sig):
            continue
        for el in target.iter(etree.Element):
            if etree.QName(el).localname == "SigningTime" and el.text and el.text.strip():
                try:
                    return parse_time(el.text)
                except ValueError:
                    # Unreadable: judge the certificate at the invoice date instead of failing a
                    # signature that verifies.
                    log.info("unreadable SigningTime %r", el.text)
    return None


def _verify_one(
    sig: etree._Element,
    ctx: IdContext,
    trusted: Sequence[x509.Certificate] | None,
) -> tuple[SignatureReport, bool]:
    role = role_of(sig)
    hdon = hdon_of(sig)
    invoice = ctx.invoice_key(hdon)
    algorithm: str | None = None
    tax_code: str | None = None
    signing_time: datetime | None = None
    subject = serial = digest = None
    trust: bool | None = None
    try:
        info = child(sig, "SignedInfo")
        assert info is not None
        c14n_el = child(info, "CanonicalizationMethod")
        c14n_uri = c14n_el.get("Algorithm", "") if c14n_el is not None else ""
        if c14n_uri not in CANONICALIZATIONS:
            raise Invalid(f"unsupported canonicalization {c14n_uri}", True)
        method_el = child(info, "SignatureMethod")
        method_uri = method_el.get("Algorithm", "") if method_el is not None else ""
        if method_uri not in SIGNATURE_METHODS:
            raise Invalid(f"unsupported signature method {method_uri}", True)
        method = SIGNATURE_METHODS[method_uri]
        algorithm = method[0]

        # Who signed: the certificate that verifies the SignatureValue.
        certs: list[x509.Certificate] = []
        key_info = child(sig, "KeyInfo", required=False)
        if key_info is not None:
            for el in key_info.iter(DSIG + "X509Certificate"):
                try:
                    cert = load_cert(b64(el.text, "X509Certificate"))
                    cert.public_key()  # parsed lazily: a mangled key must fail here, reported
                except ValueError as exc:
                    raise Invalid(f"unreadable certificate: {exc}") from exc
                certs.append(cert)
        if not certs:
            raise Invalid("no X509 certificate in KeyInfo: the signer cannot be identified")
        exclusive, comments = CANONICALIZATIONS[c14n_uri]
        signed = canonicalize(info, with_comments=comments, exclusive=exclusive)
        value = b64(child(sig, "SignatureValue").text, "SignatureValue")  # type: ignore[union-attr]
        signer = next(
            (c for c in certs if check_signature_value(c.public_key(), method, value, signed)),
            None,
        )
        if signer is None:
            tax_code = tax_code_of(certs[0])
            raise Invalid("signature value does not match SignedInfo and the certificate")
        tax_code, subject, serial = identity(signer)

        references = list(info.iterfind(DSIG + "Reference"))
        if not references:
            raise Invalid("SignedInfo has no Reference")
        scope = hdon if hdon is not None else ctx.tree.getroot()
        covered: list[etree._Element | None] = []
        digests: set[str] = set()
        for ref in references:
            target, digest_name = digest_reference(ref, sig, scope, ctx)
            covered.append(target)
            digests.add(digest_name)
        digest = "/".join(sorted(digests))

        if hdon is not None:
            data = kid(hdon, "DLHDon")
            if data is None:
                raise Invalid("the invoice has no DLHDon")
            mccqt = kid(hdon, "MCCQT")

            def covers(el: etree._Element) -> bool:
                return any(t is None or is_inside(el, t) for t in covered)

            if role == "authority":
                # The authority attests its code; the data is the seller's to sign (its real
                # countersignatures cover both, but the code is what must not be missed).
                if mccqt is not None and not covers(mccqt):
                    raise Invalid("the authority signature does not cover MCCQT")
                if mccqt is None and not covers(data):
                    raise Invalid("the signature does not cover the invoice data (DLHDon)")
            elif not covers(data):
                raise Invalid("the signature does not cover the invoice data (DLHDon)")

        signing_time = _signing_time(sig, covered)
        at = signing_time
        if at is None and hdon is not None:
            issued = kid_text(hdon, "DLHDon/TTChung/NLap")
            try:
                day = date.fromisoformat(issued)
                at = datetime(day.year, day.month, day.day, 12, tzinfo=LOCAL_TZ)
            except ValueError:
                at = None
        if at is not None:
            at_utc = at.astimezone(UTC)
            if not signer.not_valid_before_utc <= at_utc <= signer.not_valid_after_utc:
                raise Invalid(
                    f"certificate not valid at signing time {at.isoformat()} (valid "
                    f"{signer.not_valid_before_utc.isoformat()} to "
                    f"{signer.not_valid_after_utc.isoformat()})"
                )
        if trusted is not None:
            trust = chain_trusted(signer, certs, trusted, (at or datetime.now(UTC)).astimezone(UTC))
            if not trust:
                raise Invalid("certificate does not chain to a trusted authority")
    except Invalid as exc:
        report = SignatureReport(
            role,
            False,
            algorithm,
            tax_code,
            signing_time,
            str(exc),
            subject,
            serial,
            digest,
            trust,
            invoice,
        )
        return report, exc.unsupported
    report = SignatureReport(
        role, True, algorithm, tax_code, signing_time, None, subject, serial, digest, trust, invoice
    )
    return report, False


def verify_tree(
    tree: etree._ElementTree, trusted: Sequence[x509.Certificate] | None = None
) -> VerificationReport:
    """Verify an already (safely) parsed document."""
    root = tree.getroot()
    if is_named(root.tag, "HDon"):
        hdons = [root]
    elif is_named(root.tag, "TDiep"):
        data = kid(root, "DLieu")
        hdons = [] if data is None else [c for c in data if is_named(c.tag, "HDon")]
        if not hdons:
            return VerificationReport(False, "TDiep carries no DLieu/HDon", ())
    else:
        return VerificationReport(
            False, f"root element is {root.tag!r}: expected HDon or TDiep/DLieu/HDon", ()
        )
    ctx = IdContext(tree)
    checked = [(sig, *_verify_one(sig, ctx, trusted)) for sig in root.iter(DSIG + "Signature")]
    reports = tuple(report for _, report, _ in checked)
    # A message-level signature (outside every HDon) that uses something we cannot check is
    # reported but does not decide the file; the invoices' own signatures do.
    deciding = [
        report for sig, report, unsupported in checked if not (unsupported and hdon_of(sig) is None)
    ]
    error: str | None = None
    for hdon in hdons:
        key = ctx.invoice_key(hdon)
        if not any(r.role == "seller" and r.invoice == key for r in reports):
            error = f"{key or 'HDon'}: no seller signature (DSCKS/NBan/Signature)"
            break
    if error is None:
        failed = next((r for r in deciding if not r.valid), None)
        if failed is not None:
            error = f"{failed.role} signature invalid: {failed.reason}"
    return VerificationReport(error is None, error, reports)


def verify_invoice(
    xml: bytes,
    *,
    trusted: Sequence[x509.Certificate] | None = None,
    max_bytes: int = MAX_XML_BYTES,
) -> VerificationReport:
    """Check every signature of an invoice file (bare HDon or TDiep). Never raises on bad input.

    ``trusted``: CA certificates the signers must chain to; None checks integrity and identity
    only (real providers' CAs are not bundled).
    """
    try:
        tree = parse(xml, max_bytes=max_bytes)
    except XMLRejected as exc:
        log.info("invoice rejected before verification: %s", exc)
        return VerificationReport(False, str(exc), ())
    try:
        report = verify_tree(tree, trusted)
    except Exception as exc:  # a verifier must report, never crash on hostile input
        log.exception("verification failed unexpectedly")
        return VerificationReport(False, f"verification error: {exc}", ())
    if not report.valid:
        log.info("invoice signature check failed: %s", report.error)
    return report
