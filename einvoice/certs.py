"""Certificates and times in signatures: who signed, when, and whether that was allowed then.

Certificates come from third parties (every provider's CA). ``cryptography`` reads them lazily
and warns (``UserWarning``, on stderr) about what it tolerates, e.g. a subject attribute longer
than the standard's 64 characters, which some real providers' certificates have. Such a
certificate is read once, completely, here: its names are kept (every later read would warn
again) and the warnings become notes in the verification report, where the user reads them. A
certificate that cannot be read completely fails here, as an unreadable certificate, instead of
in the middle of a later check.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from einvoice.keys import tax_code_in
from einvoice.model import LOCAL_TZ

# warnings.catch_warnings swaps process-wide state: one reader at a time.
_READING = threading.Lock()


@dataclass(frozen=True, eq=False)
class CertificateInfo:
    """A certificate read completely, with what the reader noted about it."""

    certificate: x509.Certificate
    subject: x509.Name
    issuer: x509.Name
    subject_text: str  # RFC 4514
    tax_code: str | None
    serial: str  # hex
    public_key: PublicKeyTypes
    notes: tuple[str, ...]  # the parser's warnings, e.g. an attribute longer than 64

    @property
    def not_valid_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_valid_after(self) -> datetime:
        return self.certificate.not_valid_after_utc


@lru_cache(maxsize=256)
def read_certificate(der: bytes) -> CertificateInfo:
    """A DER certificate (the same few recur); ValueError when any part of it is unreadable."""
    return describe(x509.load_der_x509_certificate(der))


@lru_cache(maxsize=256)
def describe(cert: x509.Certificate) -> CertificateInfo:
    """Read every part of ``cert`` the verifier uses, keeping the reader's warnings as notes."""
    with _READING, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        subject, issuer = cert.subject, cert.issuer
        subject_text, tax_code = subject.rfc4514_string(), tax_code_in(subject)
        public_key = cert.public_key()
    serial = format(cert.serial_number, "x")
    return CertificateInfo(
        certificate=cert,
        subject=subject,
        issuer=issuer,
        subject_text=subject_text,
        tax_code=tax_code,
        serial=serial,
        public_key=public_key,
        notes=tuple(
            dict.fromkeys(f"certificate {cert.serial_number:x}: {w.message}" for w in caught)
        ),
    )


TIME_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y/%m/%d %H:%M:%S")


def parse_time(text: str) -> datetime:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    # .NET writes up to 7 fractional digits; Python reads at most 6.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        for fmt in TIME_FORMATS:
            try:
                dt = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
        else:
            raise
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=LOCAL_TZ)  # providers write the seller's local time
    return dt


def check_signature_value(
    key: object, method: tuple[str, str, type[hashes.HashAlgorithm]], signature: bytes, data: bytes
) -> bool:
    _, kind, hash_cls = method
    try:
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hash_cls())
            return True
        if kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            half = len(signature) // 2
            der = encode_dss_signature(
                int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
            )
            key.verify(der, data, ec.ECDSA(hash_cls()))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def chain_trusted(
    cert: CertificateInfo,
    pool: Sequence[CertificateInfo],
    anchors: Sequence[CertificateInfo],
    at: datetime,
) -> bool:
    """Whether ``cert`` chains to an anchor through ``pool``; validity judged at ``at``."""
    current = cert
    for _ in range(8):
        for anchor in anchors:
            if current.certificate == anchor.certificate:
                return True
            if current.issuer == anchor.subject:
                if not _issued_by(current, anchor):
                    continue
                return anchor.not_valid_before <= at <= anchor.not_valid_after
        parents = [
            c for c in pool if c.subject == current.issuer and c.certificate != current.certificate
        ]
        if not parents:
            return False
        parent = parents[0]
        if not _issued_by(current, parent):
            return False
        if not parent.not_valid_before <= at <= parent.not_valid_after:
            return False
        current = parent
    return False


def _issued_by(cert: CertificateInfo, issuer: CertificateInfo) -> bool:
    try:
        cert.certificate.verify_directly_issued_by(issuer.certificate)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
