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
from typing import Any

from cryptography import x509
from lxml import etree

from einvoice.c14n import canonicalize
from einvoice.certs import (
    CertificateInfo,
    chain_trusted,
    check_signature_value,
    describe,
    parse_time,
    read_certificate,
)
from einvoice.dsig import CANONICALIZATIONS, DSIG, SIGNATURE_METHODS
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
    # What the certificate reader noted (e.g. a subject attribute longer than 64 characters):
    # third parties' certificates, so the report says it rather than a warning on stderr.
    notes: tuple[str, ...] = ()


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


@dataclass
class _Findings:
    """What is known of one signature so far: a failure still reports it."""

    role: str
    invoice: str | None
    algorithm: str | None = None
    signer: CertificateInfo | None = None
    tax_code: str | None = None
    signing_time: datetime | None = None
    digest: str | None = None
    trust: bool | None = None
    notes: tuple[str, ...] = ()

    def report(self, reason: str | None) -> SignatureReport:
        signer = self.signer
        return SignatureReport(
            self.role,
            reason is None,
            self.algorithm,
            self.tax_code,
            self.signing_time,
            reason,
            signer.subject_text if signer else None,
            signer.serial if signer else None,
            self.digest,
            self.trust,
            self.invoice,
            self.notes,
        )


def _methods(info: etree._Element) -> tuple[str, tuple[str, str, Any]]:
    """SignedInfo's canonicalization URI and signature method (name, key type, hash)."""
    c14n_el = child(info, "CanonicalizationMethod")
    c14n_uri = c14n_el.get("Algorithm", "") if c14n_el is not None else ""
    if c14n_uri not in CANONICALIZATIONS:
        raise Invalid(f"unsupported canonicalization {c14n_uri}", True)
    method_el = child(info, "SignatureMethod")
    method_uri = method_el.get("Algorithm", "") if method_el is not None else ""
    if method_uri not in SIGNATURE_METHODS:
        raise Invalid(f"unsupported signature method {method_uri}", True)
    return c14n_uri, SIGNATURE_METHODS[method_uri]


def _certificates(sig: etree._Element) -> list[CertificateInfo]:
    certs: list[CertificateInfo] = []
    key_info = child(sig, "KeyInfo", required=False)
    if key_info is not None:
        for el in key_info.iter(DSIG + "X509Certificate"):
            try:
                certs.append(read_certificate(b64(el.text, "X509Certificate")))
            except ValueError as exc:  # a mangled key or name fails here, reported
                raise Invalid(f"unreadable certificate: {exc}") from exc
    if not certs:
        raise Invalid("no X509 certificate in KeyInfo: the signer cannot be identified")
    return certs


def _signer(
    sig: etree._Element,
    info: etree._Element,
    c14n_uri: str,
    method: tuple[str, str, Any],
    certs: Sequence[CertificateInfo],
) -> CertificateInfo | None:
    """The certificate whose key verifies the SignatureValue (the signer), if any."""
    exclusive, comments = CANONICALIZATIONS[c14n_uri]
    signed = canonicalize(info, with_comments=comments, exclusive=exclusive)
    value = b64(child(sig, "SignatureValue").text, "SignatureValue")  # type: ignore[union-attr]
    return next(
        (c for c in certs if check_signature_value(c.public_key, method, value, signed)), None
    )


def _references(
    sig: etree._Element, info: etree._Element, scope: etree._Element, ctx: IdContext
) -> tuple[list[etree._Element | None], str]:
    """Check every reference's digest: (what they cover, digest algorithms)."""
    references = list(info.iterfind(DSIG + "Reference"))
    if not references:
        raise Invalid("SignedInfo has no Reference")
    covered: list[etree._Element | None] = []
    digests: set[str] = set()
    for ref in references:
        target, digest_name = digest_reference(ref, sig, scope, ctx)
        covered.append(target)
        digests.add(digest_name)
    return covered, "/".join(sorted(digests))


def _check_coverage(
    hdon: etree._Element, role: str, covered: Sequence[etree._Element | None]
) -> None:
    """The references must cover the invoice data (and, for the authority, its code)."""
    data = kid(hdon, "DLHDon")
    if data is None:
        raise Invalid("the invoice has no DLHDon")
    mccqt = kid(hdon, "MCCQT")

    def covers(el: etree._Element) -> bool:
        return any(t is None or is_inside(el, t) for t in covered)

    if role == "authority" and mccqt is not None:
        # The authority attests its code; the data is the seller's to sign (its real
        # countersignatures cover both, but the code is what must not be missed).
        if not covers(mccqt):
            raise Invalid("the authority signature does not cover MCCQT")
    elif not covers(data):
        raise Invalid("the signature does not cover the invoice data (DLHDon)")


def _judged_at(signing_time: datetime | None, hdon: etree._Element | None) -> datetime | None:
    """When the certificate must have been valid: the signing time, else noon of the invoice
    date."""
    if signing_time is not None or hdon is None:
        return signing_time
    try:
        day = date.fromisoformat(kid_text(hdon, "DLHDon/TTChung/NLap"))
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, 12, tzinfo=LOCAL_TZ)


def _check_validity(signer: CertificateInfo, at: datetime | None) -> None:
    if at is None:
        return
    if not signer.not_valid_before <= at.astimezone(UTC) <= signer.not_valid_after:
        raise Invalid(
            f"certificate not valid at signing time {at.isoformat()} (valid "
            f"{signer.not_valid_before.isoformat()} to {signer.not_valid_after.isoformat()})"
        )


def _verify_one(
    sig: etree._Element,
    ctx: IdContext,
    trusted: Sequence[CertificateInfo] | None,
) -> tuple[SignatureReport, bool]:
    """One signature's report, and whether it failed on something this verifier lacks."""
    hdon = hdon_of(sig)
    found = _Findings(role_of(sig), ctx.invoice_key(hdon))
    try:
        info = child(sig, "SignedInfo")
        assert info is not None
        c14n_uri, method = _methods(info)
        found.algorithm = method[0]
        certs = _certificates(sig)
        found.notes = tuple(dict.fromkeys(n for c in certs for n in c.notes))
        signer = _signer(sig, info, c14n_uri, method, certs)
        if signer is None:
            found.tax_code = certs[0].tax_code
            raise Invalid("signature value does not match SignedInfo and the certificate")
        found.signer, found.tax_code = signer, signer.tax_code
        scope = hdon if hdon is not None else ctx.tree.getroot()
        covered, found.digest = _references(sig, info, scope, ctx)
        if hdon is not None:
            _check_coverage(hdon, found.role, covered)
        found.signing_time = _signing_time(sig, covered)
        at = _judged_at(found.signing_time, hdon)
        _check_validity(signer, at)
        if trusted is not None:
            found.trust = chain_trusted(signer, certs, trusted, (at or datetime.now(UTC)))
            if not found.trust:
                raise Invalid("certificate does not chain to a trusted authority")
    except Invalid as exc:
        return found.report(str(exc)), exc.unsupported
    return found.report(None), False


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
    anchors = None if trusted is None else [describe(cert) for cert in trusted]
    checked = [(sig, *_verify_one(sig, ctx, anchors)) for sig in root.iter(DSIG + "Signature")]
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
