"""Helpers that make the signature variants real providers send, for the verifier's tests."""

from __future__ import annotations

import base64
import textwrap
import warnings
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from einvoice.c14n import canonicalize
from einvoice.dsig import CANONICALIZATIONS, DIGESTS, DSIG, SIGNATURE_METHODS
from einvoice.keys import issue_certificate, load_pkcs12
from einvoice.signing import SignatureStyle, Signer


def resign(
    sig: etree._Element, key: rsa.RSAPrivateKey, wrap_value: bool = False, digests: bool = True
) -> None:
    """Recompute the digests (unless told not to) and the signature value of an edited ``sig``."""
    root = sig.getroottree().getroot()
    info = sig.find(DSIG + "SignedInfo")
    for ref in info.iterfind(DSIG + "Reference") if digests else ():
        ident = ref.get("URI")[1:]
        targets = root.xpath("//*[@Id=$i]", i=ident)
        if len(targets) > 1:  # an Id used twice: the one inside this signature is meant
            targets = [t for t in targets if sig in t.iterancestors()]
        (target,) = targets
        algorithm = DIGESTS[ref.find(DSIG + "DigestMethod").get("Algorithm")][1]
        h = hashes.Hash(algorithm())
        h.update(canonicalize(target))
        ref.find(DSIG + "DigestValue").text = base64.b64encode(h.finalize()).decode()
    exclusive, comments = CANONICALIZATIONS[
        info.find(DSIG + "CanonicalizationMethod").get("Algorithm")
    ]
    method = SIGNATURE_METHODS[info.find(DSIG + "SignatureMethod").get("Algorithm")]
    value = key.sign(
        canonicalize(info, with_comments=comments, exclusive=exclusive),
        padding.PKCS1v15(),
        method[2](),
    )
    text = base64.b64encode(value).decode()
    if wrap_value:
        text = "\n" + "\n".join(textwrap.wrap(text, 76)) + "\n"
    sig.find(DSIG + "SignatureValue").text = text


def signer_with_validity(
    ca_p12: str,
    password: str,
    tax_code: str,
    not_before: datetime,
    days: int,
    style: SignatureStyle = SignatureStyle(),
) -> Signer:
    """A seller signer whose certificate is valid from ``not_before`` for ``days``."""
    ca_key, ca_cert, _ = load_pkcs12(ca_p12, password)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key, cert = issue_certificate(
        ca_key, ca_cert, "Old Seller", tax_code, not_before=not_before, days=days
    )
    return Signer(key, cert, (ca_cert,), style)


def signer_with_long_common_name(ca_p12: str, password: str, tax_code: str) -> Signer:
    """A seller signer whose certificate has a common name longer than X.520's 64 characters,
    as some real providers' certificates do (``cryptography`` warns on reading it)."""
    ca_key, ca_cert, _ = load_pkcs12(ca_p12, password)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = "Công ty Cổ phần Dịch vụ Trông giữ Xe Thông minh Thành phố Hà Nội Chi nhánh 1"
    assert len(name.encode()) > 64
    now = datetime.now(UTC)
    with warnings.catch_warnings():  # making and signing with it is not under test
        warnings.simplefilter("ignore")
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                x509.NameAttribute(NameOID.COMMON_NAME, name, _validate=False),
                x509.NameAttribute(NameOID.USER_ID, f"MST:{tax_code}"),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
            .not_valid_after(now + timedelta(days=3650))
            .sign(ca_key, hashes.SHA256())
        )
        return Signer(key, cert, (ca_cert,))


def certificate_of(signer: Signer) -> x509.Certificate:
    return signer.certificate


def _signature_text(
    sig_id: str,
    refs: list[tuple[str, str, bool]],
    cert_b64: str,
    subject: str,
    obj_id: str,
    prop_attrs: str,
    when: str,
) -> str:
    """A signature laid out as providers and the authority write them (default namespace)."""
    references = ""
    for uri, type_attr, enveloped in refs:
        transforms = (
            '<Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
            "</Transforms>"
            if enveloped
            else ""
        )
        references += (
            f'<Reference{type_attr} URI="#{uri}">{transforms}'
            '<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
            "<DigestValue></DigestValue></Reference>"
        )
    return (
        f'<Signature Id="{sig_id}" xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
        '<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
        '<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f"{references}</SignedInfo><SignatureValue></SignatureValue><KeyInfo><X509Data>"
        f"<X509SubjectName>{subject}</X509SubjectName><X509Certificate>{cert_b64}"
        f'</X509Certificate></X509Data></KeyInfo><Object Id="{obj_id}"><SignatureProperties>'
        f"<SignatureProperty{prop_attrs}><SigningTime>{when}</SigningTime></SignatureProperty>"
        "</SignatureProperties></Object></Signature>"
    )


def authority_202(
    unsigned_hdon: bytes, seller: Signer, authority: Signer, real_subject_names: bool = False
) -> bytes:
    """A TDiep 202 shaped like the authority's real ones (see the test using it)."""
    from cryptography.hazmat.primitives import serialization

    data_id = "PRV_2603021015040101234567"
    code_id = "Id-3fca5333d7894598844aae52ece50271"
    time_id = "SigningTime-17df25b26639432c8e6e1fdca4b08b28"
    body = unsigned_hdon.split(b"?>", 1)[1].strip().decode("utf-8")
    body = body.replace(
        "<HDon>",
        '<HDon xmlns:inv="http://laphoadon.gdt.gov.vn/2014/09/invoicexml/v1"'
        ' xmlns:ds="http://www.w3.org/2000/09/xmldsig#">',
        1,
    )
    body = body.replace('Id="DLHDon-1C26MPK-00000001"', f'Id="{data_id}"', 1)
    body = body.replace(
        "<DSCKS><NBan/></DSCKS>",
        f'<MCCQT Id="{code_id}">00474597512BE94B7BAB367996EF464828</MCCQT>'
        "<DSCKS><NBan/><NMua/><CCKSKhac/><CQT/></DSCKS><DSCKS/>",
    )
    msg = etree.fromstring(
        (
            "<TDiep><TTChung><PBan>2.0.0</PBan><MNGui>TCT</MNGui><MNNhan>V0309478306</MNNhan>"
            "<MLTDiep>202</MLTDiep><MTDiep>TCTB2C5E9AF7DEF49B5BA33411171A2DF30</MTDiep>"
            "<SLuong>1</SLuong></TTChung><DLieu>" + body + "</DLieu></TDiep>"
        ).encode("utf-8")
    )
    hdon = msg.find("DLieu/HDon")

    def b64(signer: Signer) -> str:
        return base64.b64encode(
            signer.certificate.public_bytes(serialization.Encoding.DER)
        ).decode()

    seller_sig = etree.fromstring(
        _signature_text(
            "NBan",
            [
                (data_id, "", True),
                (
                    "TimeStamp",
                    ' Type="http://www.w3.org/2000/09/xmldsig#SignatureProperties"',
                    False,
                ),
            ],
            b64(seller),
            "C=VN, S=Hà Nội, CN=Bãi đỗ xe, OID.0.9.2342.19200300.100.1.1=MST:0309999999",
            "TimeStamp",
            ' Id="proid" Target="#NBan"',
            "2026-03-02T10:15:05",
        )
    )
    hdon.find("DSCKS/NBan").append(seller_sig)
    assert isinstance(seller.key, rsa.RSAPrivateKey)
    resign(seller_sig, seller.key)
    cqt_sig = etree.fromstring(
        _signature_text(
            "Tct-uuid",
            [(data_id, "", False), (time_id, "", False), (code_id, "", False)],
            b64(authority),
            "CN=Tổng cục thuế",
            time_id,
            ' Target="signatureProperties"',
            "2026-03-02T10:16:44",
        )
    )
    hdon.find("DSCKS/CQT").append(cqt_sig)
    assert isinstance(authority.key, rsa.RSAPrivateKey)
    resign(cqt_sig, authority.key)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + etree.tostring(msg, encoding="UTF-8")
