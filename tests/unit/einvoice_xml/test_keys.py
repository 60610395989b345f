from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from einvoice.keys import (
    ensure_demo_keys,
    issue_certificate,
    load_pkcs12,
    make_ca,
    tax_code_of,
    write_pkcs12,
)

from .conftest import SELLER_MST


def test_demo_keys_made_once_and_reused(tmp_path: Path) -> None:
    first = ensure_demo_keys(tmp_path, SELLER_MST)
    ca_bytes = first.ca_cert.read_bytes()
    seller_bytes = first.seller_pkcs12.read_bytes()
    again = ensure_demo_keys(tmp_path, SELLER_MST)
    assert again.ca_cert.read_bytes() == ca_bytes
    assert again.seller_pkcs12.read_bytes() == seller_bytes
    _, seller, chain = load_pkcs12(again.seller_pkcs12, again.password)
    assert tax_code_of(seller) == SELLER_MST
    assert chain[0].subject == again.ca_certificate().subject
    seller.verify_directly_issued_by(again.ca_certificate())
    _, authority, _ = load_pkcs12(again.authority_pkcs12, again.password)
    assert tax_code_of(authority) == "0100000001"
    # a second seller gets its own certificate from the same CA
    other = ensure_demo_keys(tmp_path, "0309876543")
    assert other.ca_cert.read_bytes() == ca_bytes
    _, cert2, _ = load_pkcs12(other.seller_pkcs12, other.password)
    assert tax_code_of(cert2) == "0309876543"
    assert (tmp_path / "ca.p12").stat().st_mode & 0o077 == 0


def test_demo_key_validity_can_be_fixed(tmp_path: Path) -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    keys = ensure_demo_keys(tmp_path, SELLER_MST, valid_from=start, valid_days=30)
    _, cert, _ = load_pkcs12(keys.seller_pkcs12, keys.password)
    assert cert.not_valid_before_utc == start
    assert (cert.not_valid_after_utc - start).days == 30


def _cert_with_subject(attrs: list[x509.NameAttribute]) -> x509.Certificate:
    ca_key, ca_cert = make_ca()
    _key, cert = issue_certificate(ca_key, ca_cert, "x", None)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(_key.public_key())
        .serial_number(1)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    from cryptography.hazmat.primitives import hashes

    return builder.sign(ca_key, hashes.SHA256())


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ([x509.NameAttribute(NameOID.USER_ID, "MST:0101234567")], "0101234567"),
        (
            [x509.NameAttribute(NameOID.COMMON_NAME, "Công ty A MST:0101234567-001")],
            "0101234567-001",
        ),
        (
            [
                x509.NameAttribute(NameOID.USER_ID, "CMND:012345678"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Công ty B"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "MST: 0309876543"),
            ],
            "0309876543",
        ),
        ([x509.NameAttribute(NameOID.USER_ID, "MST:001203004567")], "001203004567"),
        ([x509.NameAttribute(NameOID.USER_ID, "MST:01012345678")], None),  # 11 digits: not one
        ([x509.NameAttribute(NameOID.COMMON_NAME, "no code")], None),
    ],
)
def test_tax_code_from_subject(attrs: list[x509.NameAttribute], expected: str | None) -> None:
    assert tax_code_of(_cert_with_subject(attrs)) == expected


def test_pkcs12_round_trip_and_wrong_password(tmp_path: Path) -> None:
    ca_key, ca_cert = make_ca()
    key, cert = issue_certificate(ca_key, ca_cert, "Seller", "0101234567")
    path = write_pkcs12(tmp_path / "s.p12", key, cert, (ca_cert,), "pw")
    _key2, cert2, chain = load_pkcs12(path, "pw")
    assert cert2 == cert and chain == (ca_cert,)
    with pytest.raises(ValueError):
        load_pkcs12(path, "nope")
