"""What real providers and the authority send: layouts, time formats, namespaces, envelopes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from einvoice.dsig import DSIG, ENVELOPED
from einvoice.keys import DemoKeys
from einvoice.model import LOCAL_TZ, Invoice
from einvoice.signing import SignatureStyle, Signer
from einvoice.verify import verify_invoice
from einvoice.xml_build import build_hdon, to_bytes

from .builders import authority_202, resign
from .conftest import SELLER_MST, SIGNED_AT
from .test_signing_verify import SELLER_XPATH, _fails, _ok


def _resigned(signed: bytes, signer: Signer, edit: Callable[[etree._Element], None]) -> bytes:
    """Edit the seller signature's parts and sign again (as a provider would have signed it)."""
    root = etree.fromstring(signed)
    sig = root.find(SELLER_XPATH)
    edit(sig)
    assert isinstance(signer.key, rsa.RSAPrivateKey)
    resign(sig, signer.key)
    return to_bytes(root)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026-03-02T10:15:05", SIGNED_AT),  # local time without offset, the usual case
        ("2026-03-02T03:15:05Z", SIGNED_AT),
        ("2026-03-02T10:15:05.1234567+07:00", SIGNED_AT.replace(microsecond=123456)),
        ("02/03/2026 10:15:05", SIGNED_AT),
        ("yesterday", None),  # unreadable: reported as unknown, judged at the invoice date
    ],
)
def test_signing_time_formats(
    signed: bytes, seller_signer: Signer, written: str, expected: datetime | None
) -> None:
    def edit(sig: etree._Element) -> None:
        sig.find(f".//{DSIG}SigningTime").text = written

    report = verify_invoice(_resigned(signed, seller_signer, edit))
    assert report.valid, report.error
    assert report.signatures[0].signing_time == expected


def test_c14n_11_signed_info_accepted(signed: bytes, seller_signer: Signer) -> None:
    def edit(sig: etree._Element) -> None:
        method = sig.find(f"{DSIG}SignedInfo/{DSIG}CanonicalizationMethod")
        method.set("Algorithm", "http://www.w3.org/2006/12/xml-c14n11")

    _ok(_resigned(signed, seller_signer, edit))


def test_signature_deeper_in_its_slot_keeps_its_role(signed: bytes) -> None:
    root = etree.fromstring(signed)
    slot = root.find("DSCKS/NBan")
    sig = slot[0]
    holder = etree.SubElement(slot, "CKy")
    holder.append(sig)
    _ok(to_bytes(root))


def test_namespaced_invoice_vocabulary(
    make_invoice: Callable[..., Invoice], seller_signer: Signer
) -> None:
    """Element names are matched by local name: an HDon in a namespace verifies too."""
    hdon = build_hdon(make_invoice())
    for el in hdon.iter():
        el.tag = "{urn:example:hdon}" + el.tag
    xml = etree.tostring(hdon)
    root = etree.fromstring(xml)
    ns = "{urn:example:hdon}"
    data, slot = root.find(ns + "DLHDon"), root.find(f"{ns}DSCKS/{ns}NBan")
    seller_signer._sign_generic(slot, data, None, "s1", "t1", "2026-03-02T10:15:05+07:00")
    xml = etree.tostring(root)
    report = verify_invoice(xml)
    assert report.valid, report.error
    assert report.signatures[0].role == "seller"
    assert report.signatures[0].invoice == "1C26MPK-00000001"
    _fails(xml.replace(b"30A-123.45", b"30A-123.46"), "digest mismatch")


def _with_envelope_signature(signed: bytes, signer: Signer, transform: str) -> bytes:
    """A TDiep whose envelope is signed too (over TTChung), with the given transform."""
    msg = etree.fromstring(
        b'<TDiep><TTChung Id="hdr"><MLTDiep>202</MLTDiep></TTChung><DLieu/></TDiep>'
    )
    msg.find("DLieu").append(etree.fromstring(signed))
    inner = msg.find(f"DLieu/HDon/DSCKS/NBan/{DSIG}Signature")
    envelope = copy.deepcopy(inner)
    for el in envelope.iter():
        if el.get("Id"):
            el.set("Id", "env-" + el.get("Id"))
    info = envelope.find(DSIG + "SignedInfo")
    refs = info.findall(DSIG + "Reference")
    refs[0].set("URI", "#hdr")
    refs[0].find(f"{DSIG}Transforms/{DSIG}Transform").set("Algorithm", transform)
    refs[1].set("URI", "#env-" + refs[1].get("URI")[1:])
    msg.append(envelope)
    assert isinstance(signer.key, rsa.RSAPrivateKey)
    if transform.endswith("enveloped-signature"):
        resign(envelope, signer.key)
    else:
        resign(envelope, signer.key, digests=False)
    return etree.tostring(msg)


def test_envelope_signature_checked(signed: bytes, seller_signer: Signer) -> None:
    xml = _with_envelope_signature(signed, seller_signer, ENVELOPED)
    report = verify_invoice(xml)
    assert report.valid, report.error
    assert [s.role for s in report.signatures] == ["seller", "unknown"]
    _fails(xml.replace(b"<MLTDiep>202<", b"<MLTDiep>204<"), "digest mismatch")


def test_envelope_signature_we_cannot_check_does_not_decide(
    signed: bytes, seller_signer: Signer
) -> None:
    xml = _with_envelope_signature(
        signed, seller_signer, "http://www.w3.org/TR/1999/REC-xpath-19991116"
    )
    report = verify_invoice(xml)
    assert report.valid, report.error
    assert not report.signatures[1].valid
    assert "unsupported transform" in (report.signatures[1].reason or "")


def test_both_signatures_may_name_their_object_alike(
    make_invoice: Callable[..., Invoice], seller_signer: Signer, authority_signer: Signer
) -> None:
    """Real files reuse Object Ids such as "SigningTime" in the seller and authority signatures."""
    root = build_hdon(make_invoice())
    seller_signer.sign_seller(root, SIGNED_AT)
    authority_signer.countersign_authority(root, SIGNED_AT)
    assert isinstance(seller_signer.key, rsa.RSAPrivateKey)
    assert isinstance(authority_signer.key, rsa.RSAPrivateKey)
    for slot, key in (("NBan", seller_signer.key), ("CQT", authority_signer.key)):
        sig = root.find(f"DSCKS/{slot}/{DSIG}Signature")
        sig.find(DSIG + "Object").set("Id", "SigningTime")
        sig.find(f"{DSIG}SignedInfo/{DSIG}Reference[2]").set("URI", "#SigningTime")
        resign(sig, key)
    report = verify_invoice(to_bytes(root))
    assert report.valid, report.error
    assert [s.role for s in report.signatures] == ["seller", "authority"]


@pytest.mark.parametrize(
    ("bits", "style"),
    [
        (1024, SignatureStyle(method="rsa-sha1", digest="sha1")),  # old sellers' tokens
        (3072, SignatureStyle()),  # the authority's newer keys
    ],
)
def test_other_key_sizes(
    bits: int, style: SignatureStyle, demo_keys: DemoKeys, make_invoice: Callable[..., Invoice]
) -> None:
    from einvoice.keys import issue_certificate, load_pkcs12

    ca_key, ca_cert, _ = load_pkcs12(demo_keys.directory / "ca.p12", demo_keys.password)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key, cert = issue_certificate(
        ca_key,
        ca_cert,
        "Seller",
        SELLER_MST,
        key_bits=bits,
        not_before=datetime(2025, 1, 1, tzinfo=UTC),
        days=3650,
    )
    xml = Signer(key, cert, (ca_cert,), style).sign_seller(build_hdon(make_invoice()), SIGNED_AT)
    report = verify_invoice(xml, trusted=[ca_cert])
    assert report.valid, report.error
    assert report.signatures[0].algorithm == style.method


def test_authority_202_message_in_the_real_layout(
    make_invoice: Callable[..., Invoice], seller_signer: Signer, authority_signer: Signer
) -> None:
    """The layout of a real 202 from the authority's test system, rebuilt with our keys:
    unused xmlns:inv/xmlns:ds on HDon, Signature Ids "NBan"/"Tct-uuid", the seller's time in
    Object "TimeStamp" (SignatureProperty with its own Id), times without offset, the authority's
    three references without transforms, a 34-character code, NMua/CCKSKhac slots before CQT, a
    stray empty DSCKS, and an X509SubjectName that names another tax code."""
    unsigned = to_bytes(build_hdon(make_invoice(mccqt_sequence=None)))
    xml = authority_202(unsigned, seller_signer, authority_signer)
    report = verify_invoice(xml)
    assert report.valid, report.error
    seller, authority = report.signatures
    assert (seller.role, authority.role) == ("seller", "authority")
    assert seller.signer_tax_code == SELLER_MST  # from the certificate, not X509SubjectName
    assert seller.signing_time == SIGNED_AT
    assert authority.signing_time == datetime(2026, 3, 2, 10, 16, 44, tzinfo=LOCAL_TZ)
    changed_code = xml.replace(b"464828<", b"464829<")
    report = verify_invoice(changed_code)
    assert [s.valid for s in report.signatures] == [True, False]
    _fails(xml.replace(b"30A-123.45", b"30A-123.46"), "digest mismatch")


def test_indented_invoice_signed_as_is_and_compacted_copy_fails(
    make_invoice: Callable[..., Invoice], seller_signer: Signer
) -> None:
    """Providers sign pretty-printed invoices; the whitespace is then part of what is signed."""
    hdon = build_hdon(make_invoice())
    etree.indent(hdon)
    xml = seller_signer.with_style(SignatureStyle(method="rsa-sha1", digest="sha1")).sign_seller(
        hdon, SIGNED_AT
    )
    assert b"\n    <TTChung>" in xml
    _ok(b"\xef\xbb\xbf" + xml)
    compact = etree.tostring(
        etree.fromstring(xml, etree.XMLParser(remove_blank_text=True)), encoding="UTF-8"
    )
    _fails(compact, "digest mismatch")


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mangled_files_get_a_reason_never_a_crash(signed: bytes, data: st.DataObject) -> None:
    """Random byte edits: either still valid (an edit C14N does not see) or a clear reason."""
    xml = bytearray(signed)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(xml) - 1))
        xml[at] = data.draw(st.integers(0, 255))
    report = verify_invoice(bytes(xml))
    if not report.valid:
        assert report.error
        assert not report.error.startswith("verification error"), report.error
