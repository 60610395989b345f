"""Keys and certificates: a local CA, seller and tax-authority certificates, PKCS#12 files.

In production the seller's certificate comes from a licensed CA as a PKCS#12 file named in the
settings. For the demo and the tests :func:`ensure_demo_keys` makes a local CA, a seller
certificate whose subject carries ``UID=MST:<tax code>`` and a tax-authority certificate, once,
and reuses them afterwards.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEMO_PASSWORD = "parking-demo"
DEMO_AUTHORITY_TAX_CODE = "0100000001"  # not a real tax code: the demo tax authority's
DEMO_AUTHORITY_NAME = "Cơ quan Thuế (mô phỏng)"

# 10 digits, 10 + "-" + 3 (a branch), or the 12-digit personal number used as tax code since 2025.
_MST = re.compile(r"MST\s*[:=]?\s*([0-9]{12}|[0-9]{10}-[0-9]{3}|[0-9]{10})(?![0-9])", re.IGNORECASE)


def tax_code_of(cert: x509.Certificate) -> str | None:
    """The MST in a certificate's subject (UID, CN or any attribute ``MST:0101234567``)."""
    return tax_code_in(cert.subject)


def tax_code_in(subject: x509.Name) -> str | None:
    """The MST in a subject name (see :func:`tax_code_of`)."""
    preferred = (NameOID.USER_ID, NameOID.COMMON_NAME)
    attrs = list(subject)
    attrs.sort(key=lambda a: preferred.index(a.oid) if a.oid in preferred else len(preferred))
    for attr in attrs:
        value = attr.value if isinstance(attr.value, str) else attr.value.decode("utf-8", "replace")
        match = _MST.search(value)
        if match:
            return match.group(1)
    return None


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _name(common_name: str, tax_code: str | None, organization: str | None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    if tax_code:
        attrs.append(x509.NameAttribute(NameOID.USER_ID, f"MST:{tax_code}"))
    return x509.Name(attrs)


def make_ca(
    common_name: str = "Parking Demo CA",
    *,
    key: rsa.RSAPrivateKey | None = None,
    not_before: datetime | None = None,
    days: int = 3650,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = key or new_rsa_key(2048)
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    name = _name(common_name, None, "Parking Demo")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_certificate(
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    tax_code: str | None,
    *,
    key: rsa.RSAPrivateKey | None = None,
    key_bits: int = 2048,
    not_before: datetime | None = None,
    days: int = 3 * 365,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A signing certificate whose subject carries ``UID=MST:<tax_code>``."""
    key = key or new_rsa_key(key_bits)
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, tax_code, common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _atomic_write(path: Path, data: bytes) -> None:
    """Write then rename, so two processes starting at once never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pkcs12_bytes(
    key: PrivateKeyTypes,
    cert: x509.Certificate,
    chain: tuple[x509.Certificate, ...] = (),
    password: str | bytes | None = None,
    friendly_name: str = "signing",
) -> bytes:
    pw = password.encode() if isinstance(password, str) else password
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(pw) if pw else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode(),
        key,  # type: ignore[arg-type]
        cert,
        list(chain) or None,
        encryption,
    )


def write_pkcs12(
    path: Path,
    key: PrivateKeyTypes,
    cert: x509.Certificate,
    chain: tuple[x509.Certificate, ...] = (),
    password: str | bytes | None = None,
) -> Path:
    _atomic_write(path, pkcs12_bytes(key, cert, chain, password))
    return path


def load_pkcs12(
    path: Path | str, password: str | bytes | None
) -> tuple[PrivateKeyTypes, x509.Certificate, tuple[x509.Certificate, ...]]:
    pw = password.encode() if isinstance(password, str) else password
    key, cert, chain = pkcs12.load_key_and_certificates(Path(path).read_bytes(), pw)
    if key is None or cert is None:
        raise ValueError(f"{path}: the PKCS#12 file holds no key and certificate")
    return key, cert, tuple(chain)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class DemoKeys:
    directory: Path
    ca_cert: Path  # PEM, the trust anchor for verifiers (and xmlsec1 --trusted-pem)
    seller_pkcs12: Path
    authority_pkcs12: Path
    password: str

    def ca_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_cert.read_bytes())


def ensure_demo_keys(
    directory: Path | str,
    seller_tax_code: str,
    seller_name: str = "Bãi đỗ xe (demo)",
    password: str = DEMO_PASSWORD,
    valid_from: datetime | None = None,
    valid_days: int = 3 * 365,
) -> DemoKeys:
    """The demo CA, seller and tax-authority keys under ``directory``, made on first use.

    ``valid_from``/``valid_days`` set the certificates' validity when they are made (tests sign
    at fixed past dates); the CA is valid ten years from the same start.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes on first run make one CA, not two
        return _ensure_demo_keys(
            directory, seller_tax_code, seller_name, password, valid_from, valid_days
        )


def _ensure_demo_keys(
    directory: Path,
    seller_tax_code: str,
    seller_name: str,
    password: str,
    valid_from: datetime | None,
    valid_days: int,
) -> DemoKeys:
    ca_p12 = directory / "ca.p12"
    ca_pem = directory / "ca.pem"
    seller = directory / f"seller-{seller_tax_code}.p12"
    authority = directory / "tax-authority.p12"
    if ca_p12.exists():
        ca_key_any, ca_cert, _ = load_pkcs12(ca_p12, password)
        if not isinstance(ca_key_any, rsa.RSAPrivateKey):
            raise ValueError(f"{ca_p12}: the demo CA key is not RSA")
        ca_key = ca_key_any
    else:
        ca_key, ca_cert = make_ca(not_before=valid_from)
        write_pkcs12(ca_p12, ca_key, ca_cert, (), password)
    if not ca_pem.exists():
        _atomic_write(ca_pem, cert_pem(ca_cert))
    if not seller.exists():
        key, cert = issue_certificate(
            ca_key, ca_cert, seller_name, seller_tax_code, not_before=valid_from, days=valid_days
        )
        write_pkcs12(seller, key, cert, (ca_cert,), password)
    if not authority.exists():
        key, cert = issue_certificate(
            ca_key,
            ca_cert,
            DEMO_AUTHORITY_NAME,
            DEMO_AUTHORITY_TAX_CODE,
            not_before=valid_from,
            days=valid_days,
        )
        write_pkcs12(authority, key, cert, (ca_cert,), password)
    return DemoKeys(directory, ca_pem, seller, authority, password)
