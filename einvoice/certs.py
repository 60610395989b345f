"""Certificates and times in signatures: who signed, when, and whether that was allowed then."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from einvoice.keys import tax_code_of
from einvoice.model import LOCAL_TZ


@lru_cache(maxsize=256)
def load_cert(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


@lru_cache(maxsize=256)
def identity(cert: x509.Certificate) -> tuple[str | None, str, str]:
    """Tax code, subject and serial of a certificate (the same few certificates recur)."""
    return tax_code_of(cert), cert.subject.rfc4514_string(), format(cert.serial_number, "x")


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
    cert: x509.Certificate,
    pool: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: datetime,
) -> bool:
    """Whether ``cert`` chains to an anchor through ``pool``; validity judged at ``at``."""
    current = cert
    for _ in range(8):
        for anchor in anchors:
            if current == anchor:
                return True
            if current.issuer == anchor.subject:
                try:
                    current.verify_directly_issued_by(anchor)
                except (InvalidSignature, ValueError, TypeError):
                    continue
                return anchor.not_valid_before_utc <= at <= anchor.not_valid_after_utc
        parents = [c for c in pool if c.subject == current.issuer and c != current]
        if not parents:
            return False
        parent = parents[0]
        try:
            current.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError):
            return False
        if not parent.not_valid_before_utc <= at <= parent.not_valid_after_utc:
            return False
        current = parent
    return False
