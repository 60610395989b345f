"""Sign -> verify, and everything that must make verification fail or still succeed."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from einvoice.dsig import C14N_COMMENTS, DSIG
from einvoice.keys import DemoKeys, ensure_demo_keys
from einvoice.model import LOCAL_TZ, Invoice
from einvoice.signing import SignatureStyle, Signer, SigningError
from einvoice.verify import verify_invoice
from einvoice.xml_build import build_hdon, hdon_text, to_bytes
from einvoice.xsd import validate

from .builders import resign, signer_with_validity
from .conftest import SELLER_MST, SIGNED_AT, request

SELLER_XPATH = "DSCKS/NBan/" + DSIG + "Signature"


def _ok(xml: bytes, roles: tuple[str, ...] = ("seller",)) -> None:
    report = verify_invoice(xml)
    assert report.valid, report.error
    assert tuple(s.role for s in report.signatures) == roles
    assert all(s.valid and s.reason is None for s in report.signatures)


def _fails(xml: bytes, reason_part: str) -> None:
    report = verify_invoice(xml)
    assert not report.valid
    assert report.error and reason_part in report.error, report.error


def test_signed_invoice_verifies_and_reports(signed: bytes) -> None:
    assert validate(signed) == []
    report = verify_invoice(signed)
    assert report.valid and report.error is None
    (sig,) = report.signatures
    assert sig.role == "seller"
    assert sig.algorithm == "rsa-sha256" and sig.digest == "sha256"
    assert sig.signer_tax_code == SELLER_MST
    assert sig.signing_time == SIGNED_AT
    assert sig.invoice == "1C26MPK-00000001"


def test_signature_shape(signed: bytes) -> None:
    root = etree.fromstring(signed)
    sig = root.find(SELLER_XPATH)
    assert sig.prefix is None  # default namespace, as real invoices
    info = sig.find(DSIG + "SignedInfo")
    assert info.find(DSIG + "CanonicalizationMethod").get("Algorithm") == (
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    )
    assert info.find(DSIG + "SignatureMethod").get("Algorithm").endswith("rsa-sha256")
    refs = info.findall(DSIG + "Reference")
    assert [r.get("URI") for r in refs] == [
        "#DLHDon-1C26MPK-00000001",
        "#SigningTime-NBan-DLHDon-1C26MPK-00000001",
    ]
    assert (
        refs[0]
        .find(f"{DSIG}Transforms/{DSIG}Transform")
        .get("Algorithm")
        .endswith("enveloped-signature")
    )
    prop = sig.find(f"{DSIG}Object/{DSIG}SignatureProperties/{DSIG}SignatureProperty")
    assert prop.get("Target") == "#" + sig.get("Id")
    assert prop.findtext(DSIG + "SigningTime") == "2026-03-02T10:15:05+07:00"
    assert sig.find(f"{DSIG}KeyInfo/{DSIG}X509Data/{DSIG}X509Certificate") is not None


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<TgTTTBSo>25000<", b"<TgTTTBSo>2500<"),  # amount
        (b"<ThTien>23148<", b"<ThTien>23149<"),
        (b"30A-123.45", b"30A-123.46"),  # plate
        (b"<SHDon>1<", b"<SHDon>2<"),
        (b"Nguy\xe1\xbb\x85n V\xc4\x83n An", b"Nguyen Van An"),
    ],
)
def test_changed_content_fails(signed: bytes, old: bytes, new: bytes) -> None:
    assert old in signed
    _fails(signed.replace(old, new, 1), "digest mismatch for DLHDon")


def test_changed_signing_time_fails(signed: bytes) -> None:
    _fails(signed.replace(b"10:15:05+07:00", b"10:15:06+07:00"), "digest mismatch for Object")


def test_reindented_copy_fails(signed: bytes) -> None:
    tree = etree.ElementTree(etree.fromstring(signed))
    etree.indent(tree)
    _fails(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"), "")


def test_whitespace_added_inside_data_fails(signed: bytes) -> None:
    _fails(signed.replace(b"<TTChung>", b"<TTChung>\n  ", 1), "digest mismatch for DLHDon")


def test_changed_signature_value_fails(signed: bytes) -> None:
    root = etree.fromstring(signed)
    value = root.find(f"{SELLER_XPATH}/{DSIG}SignatureValue")
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 1
    value.text = base64.b64encode(bytes(raw)).decode()
    _fails(to_bytes(root), "signature value does not match")


@pytest.mark.parametrize(
    "style",
    [
        SignatureStyle(method="rsa-sha1", digest="sha1"),
        SignatureStyle(method="rsa-sha256", digest="sha1"),
        SignatureStyle(method="rsa-sha512", digest="sha512"),
        SignatureStyle(signing_time_ns=None),
        SignatureStyle(signing_time_ns="urn:tax-authority:ns"),
        SignatureStyle(enveloped_on_object=True),
        SignatureStyle(signed_info_c14n=C14N_COMMENTS),
        SignatureStyle(explicit_c14n_transform=True),
        SignatureStyle(prefix="ds"),
        SignatureStyle(subject_name=False, include_chain=True),
        SignatureStyle(
            method="rsa-sha1", digest="sha1", signing_time_ns=None, enveloped_on_object=True
        ),
    ],
    ids=lambda s: repr(s)[len("SignatureStyle(") : -1][:60],
)
def test_real_world_variants_verify(
    style: SignatureStyle, make_invoice: Callable[..., Invoice], seller_signer: Signer
) -> None:
    xml = seller_signer.with_style(style).sign_seller(build_hdon(make_invoice()), SIGNED_AT)
    report = verify_invoice(xml)
    assert report.valid, report.error
    (sig,) = report.signatures
    assert sig.algorithm == style.method and sig.digest == style.digest
    assert sig.signing_time == SIGNED_AT
    assert sig.signer_tax_code == SELLER_MST
    # ...and each variant still rejects a changed amount
    _fails(xml.replace(b"<TgTTTBSo>25000<", b"<TgTTTBSo>25001<"), "digest mismatch")


def test_signing_time_without_namespace_is_written_with_xmlns_empty(
    make_invoice: Callable[..., Invoice], seller_signer: Signer
) -> None:
    xml = seller_signer.with_style(SignatureStyle(signing_time_ns=None)).sign_seller(
        build_hdon(make_invoice()), SIGNED_AT
    )
    assert b'<SignatureProperties xmlns="">' in xml
    assert (
        etree.fromstring(xml).find(".//SignatureProperties/SignatureProperty/SigningTime")
        is not None
    )


def test_pretty_signature_with_wrapped_value_verifies(
    make_invoice: Callable[..., Invoice], seller_signer: Signer
) -> None:
    """Providers indent the Signature element and wrap the base64: signed that way, it is fine."""
    root = build_hdon(make_invoice())
    seller_signer.sign_seller(root, SIGNED_AT)
    sig = root.find(SELLER_XPATH)
    etree.indent(sig, level=3)
    assert isinstance(seller_signer.key, rsa.RSAPrivateKey)
    resign(sig, seller_signer.key, wrap_value=True)
    xml = to_bytes(root)
    assert re.search(rb"\n +<SignedInfo>", xml)
    _ok(xml)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda x: b"\xef\xbb\xbf" + x,  # BOM
        lambda x: x.split(b"\n", 1)[1],  # no XML declaration
        lambda x: b"\xef\xbb\xbf" + x.split(b"\n", 1)[1],
        lambda x: x.replace(b"?>\n", b'?>\n<?xml-stylesheet type="text/xsl" href="hd.xsl"?>\n', 1),
        lambda x: (
            b"<?xml version='1.0' encoding='UTF-8'?><TDiep><TTChung><PBan>2.1.0</PBan>"
            b"<MLTDiep>202</MLTDiep></TTChung><DLieu>" + x.split(b"\n", 1)[1] + b"</DLieu></TDiep>"
        ),
        lambda x: x.replace(b"\n", b"\r\n"),  # CRLF after the declaration
    ],
    ids=["bom", "no-declaration", "bom-no-declaration", "stylesheet", "tdiep", "crlf"],
)
def test_file_wrappers_accepted(signed: bytes, wrap: Callable[[bytes], bytes]) -> None:
    _ok(wrap(signed))


def test_identity_comes_from_the_certificate_not_subject_name_text(signed: bytes) -> None:
    forged = signed.replace(b"UID=MST:0101234567", b"UID=MST:0309999999", 1)
    assert forged != signed
    report = verify_invoice(forged)
    assert report.valid  # X509SubjectName is not signed and not trusted
    assert report.signatures[0].signer_tax_code == SELLER_MST


def test_swapped_certificate_fails(signed: bytes, authority_signer: Signer) -> None:
    root = etree.fromstring(signed)
    cert = root.find(f"{SELLER_XPATH}/{DSIG}KeyInfo/{DSIG}X509Data/{DSIG}X509Certificate")
    cert.text = base64.b64encode(
        authority_signer.certificate.public_bytes(serialization.Encoding.DER)
    ).decode()
    _fails(to_bytes(root), "signature value does not match")


def test_certificate_judged_at_signing_time(
    demo_keys: DemoKeys, make_invoice: Callable[..., Invoice]
) -> None:
    # Valid 2024-01-01..2025-01-01: expired today, valid when the invoice was signed.
    old = signer_with_validity(
        str(demo_keys.directory / "ca.p12"),
        demo_keys.password,
        SELLER_MST,
        datetime(2024, 1, 1, tzinfo=UTC),
        366,
    )
    signed_then = datetime(2024, 6, 1, 9, 0, tzinfo=LOCAL_TZ)
    inv = make_invoice(issued_at=signed_then)
    _ok(old.sign_seller(build_hdon(inv), signed_then))
    late = old.sign_seller(build_hdon(inv), datetime(2025, 6, 1, 9, 0, tzinfo=LOCAL_TZ))
    _fails(late, "certificate not valid at signing time")


def test_trust_anchor_checked_when_given(demo_keys: DemoKeys, signed: bytes, tmp_path) -> None:
    ca = demo_keys.ca_certificate()
    report = verify_invoice(signed, trusted=[ca])
    assert report.valid and report.signatures[0].trusted is True
    other = ensure_demo_keys(tmp_path / "other", SELLER_MST).ca_certificate()
    report = verify_invoice(signed, trusted=[other])
    assert not report.valid and "trusted" in (report.error or "")


def test_authority_countersignature(
    make_invoice: Callable[..., Invoice], seller_signer: Signer, authority_signer: Signer
) -> None:
    root = build_hdon(make_invoice(mccqt_sequence=None))
    seller_signer.sign_seller(root, SIGNED_AT)
    xml = authority_signer.countersign_authority(
        root, SIGNED_AT + timedelta(seconds=3), mccqt="00A1B2C3D4E5F60718293A4B5"[:23]
    )
    assert validate(xml) == []
    report = verify_invoice(xml)
    assert report.valid, report.error
    seller, authority = report.signatures
    assert (seller.role, authority.role) == ("seller", "authority")
    assert authority.signer_tax_code == "0100000001"
    sig = etree.fromstring(xml).find("DSCKS/CQT/" + DSIG + "Signature")
    uris = [r.get("URI") for r in sig.iterfind(f"{DSIG}SignedInfo/{DSIG}Reference")]
    assert uris == [
        "#DLHDon-1C26MPK-00000001",
        "#SigningTime-CQT-DLHDon-1C26MPK-00000001",
        "#MCCQT-DLHDon-1C26MPK-00000001",
    ]
    # A changed code breaks the authority's signature only.
    changed = verify_invoice(
        xml.replace(b">00A1B2C3D4E5F60718293A4<", b">00A1B2C3D4E5F60718293A5<")
    )
    assert not changed.valid
    assert [s.valid for s in changed.signatures] == [True, False]
    assert "MCCQT" in (changed.signatures[1].reason or "")


def test_countersign_needs_a_code(
    make_invoice: Callable[..., Invoice], authority_signer: Signer
) -> None:
    with pytest.raises(SigningError):
        authority_signer.countersign_authority(build_hdon(make_invoice(mccqt_sequence=None)))


def test_signing_twice_is_refused(signed: bytes, seller_signer: Signer) -> None:
    with pytest.raises(SigningError):
        seller_signer.sign_seller(signed)


def test_batch_with_repeated_ids_verifies_per_invoice(
    make_invoice: Callable[..., Invoice], seller_signer: Signer
) -> None:
    """Batches (TDiep 206) carry several HDon whose Ids are the same ("data"): scope per HDon."""
    msg = etree.Element("TDiep")
    data = etree.SubElement(msg, "DLieu")
    for number in (1, 2):
        hdon = build_hdon(make_invoice(number=number))
        hdon.find("DLHDon").set("Id", "data")
        seller_signer.sign_seller(hdon, SIGNED_AT)
        data.append(hdon)
    xml = etree.tostring(msg)
    report = verify_invoice(xml)
    assert report.valid, report.error
    assert [s.invoice for s in report.signatures] == ["1C26MPK-00000001", "1C26MPK-00000002"]
    _fails(xml.replace(b"<SHDon>2<", b"<SHDon>3<"), "digest mismatch")


def test_duplicate_id_wrapping_attack_fails(signed: bytes) -> None:
    root = etree.fromstring(signed)
    fake = etree.fromstring(etree.tostring(root.find("DLHDon")))
    fake.find("NDHDon/TToan/TgTTTBSo").text = "1"
    root.find("DSCKS").append(fake)
    _fails(to_bytes(root), "appears 2 times")


def test_renamed_reference_target_does_not_cover_data(signed: bytes) -> None:
    root = etree.fromstring(signed)
    original = root.find("DLHDon")
    copy_ = etree.fromstring(etree.tostring(original))
    original.set("Id", "other")  # the signed copy is moved aside, the visible data altered
    original.find("NDHDon/TToan/TgTTTBSo").text = "1"
    holder = etree.SubElement(root.find("DSCKS"), "Hidden")
    holder.append(copy_)
    _fails(to_bytes(root), "does not cover the invoice data")


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (b"", "empty"),
        (b"<HDon>", "malformed"),
        (b"not xml", "malformed"),
        (b'<!DOCTYPE HDon [<!ENTITY a "aaaa">]><HDon>&a;</HDon>', "DOCTYPE"),
        (b'<!DOCTYPE HDon [<!ENTITY x SYSTEM "file:///etc/passwd">]><HDon>&x;</HDon>', "DOCTYPE"),
        (
            b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><HDon>&c;&c;&c;&c;&c;</HDon>',
            "DOCTYPE",
        ),
        (b"<Other/>", "root element"),
        (b"<TDiep><DLieu/></TDiep>", "no DLieu/HDon"),
    ],
)
def test_bad_input_reports_without_raising(xml: bytes, reason: str) -> None:
    report = verify_invoice(xml)
    assert not report.valid and reason in (report.error or "")


def test_unsigned_invoice_is_not_valid(make_invoice: Callable[..., Invoice]) -> None:
    _fails(to_bytes(build_hdon(make_invoice())), "no seller signature")


def test_size_limit(signed: bytes) -> None:
    report = verify_invoice(signed, max_bytes=100)
    assert not report.valid and "too large" in (report.error or "")


def test_missing_certificate_fails(signed: bytes) -> None:
    root = etree.fromstring(signed)
    key_info = root.find(f"{SELLER_XPATH}/{DSIG}KeyInfo")
    key_info.getparent().remove(key_info)
    _fails(to_bytes(root), "no X509 certificate")


def test_certificate_with_an_unreadable_subject_fails_with_a_reason(signed: bytes) -> None:
    """``cryptography`` reads a certificate's names only when asked: a mangled subject must be
    reported as an unreadable certificate, not crash the check when the MST is read (a random
    byte edit found it: "verification error: error parsing asn1 value ... subject")."""
    root = etree.fromstring(signed)
    cert_el = root.find(f"{SELLER_XPATH}/{DSIG}KeyInfo/{DSIG}X509Data/{DSIG}X509Certificate")
    der = bytearray(base64.b64decode(cert_el.text))
    mst = der.find(f"MST:{SELLER_MST}".encode())
    assert der[mst - 2] == 0x0C  # the UID's UTF8String tag ...
    der[mst - 2] = 0x01  # ... made a BOOLEAN of 16 bytes: the subject no longer parses
    cert_el.text = base64.b64encode(bytes(der)).decode()
    report = verify_invoice(to_bytes(root))
    assert not report.valid
    assert report.error and "unreadable certificate" in report.error, report.error


def _edit_signed_info(signed: bytes, old: bytes, new: bytes, signer: Signer) -> bytes:
    """Change SignedInfo and sign it again, so that only the reference handling is tested."""
    root = etree.fromstring(signed.replace(old, new, 1))
    assert isinstance(signer.key, rsa.RSAPrivateKey)
    resign(root.find(SELLER_XPATH), signer.key, digests=False)
    return to_bytes(root)


def test_unsupported_transform_fails(signed: bytes, seller_signer: Signer) -> None:
    xml = _edit_signed_info(
        signed, b"xmldsig#enveloped-signature", b"xmldsig#base64", seller_signer
    )
    _fails(xml, "unsupported transform")


def test_external_reference_refused(signed: bytes, seller_signer: Signer) -> None:
    xml = _edit_signed_info(
        signed, b'URI="#DLHDon', b'URI="http://127.0.0.1:9/#DLHDon', seller_signer
    )
    _fails(xml, "external reference")


def test_signed_info_edit_without_resigning_fails(signed: bytes) -> None:
    _fails(signed.replace(b"xmlenc#sha256", b"xmldsig-more#sha384", 1), "signature value")


def test_signer_from_pkcs12(demo_keys: DemoKeys) -> None:
    signer = Signer.from_pkcs12(demo_keys.seller_pkcs12, demo_keys.password)
    assert signer.tax_code == SELLER_MST
    with pytest.raises(ValueError):
        Signer.from_pkcs12(demo_keys.seller_pkcs12, "wrong password")


STYLES_FOR_PATHS = [
    SignatureStyle(),
    SignatureStyle(method="rsa-sha1", digest="sha1", signing_time_ns=None),
    SignatureStyle(prefix="ds", signing_time_ns=None, explicit_c14n_transform=True),
    SignatureStyle(prefix="ds", signing_time_ns="urn:other", enveloped_on_object=True),
    SignatureStyle(signing_time_ns="urn:other", signed_info_c14n=C14N_COMMENTS, include_chain=True),
]


@pytest.mark.parametrize("style", STYLES_FOR_PATHS)
def test_fast_and_general_signing_paths_agree(
    style: SignatureStyle,
    make_invoice: Callable[..., Invoice],
    seller_signer: Signer,
    authority_signer: Signer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The text-template path and the build-then-canonicalize path sign the same bytes."""

    def values(xml: bytes) -> list[str]:
        root = etree.fromstring(xml)
        return [v.text for v in root.iter(DSIG + "SignatureValue", DSIG + "DigestValue")]

    def sign() -> bytes:
        hdon = build_hdon(make_invoice())
        seller_signer.with_style(style).sign_seller(hdon, SIGNED_AT)
        return authority_signer.with_style(style).countersign_authority(hdon, SIGNED_AT)

    fast = sign()
    monkeypatch.setattr(
        Signer,
        "_sign_plain",
        lambda self, *args: self._sign_generic(*args),
    )
    general = sign()
    assert values(fast) == values(general)
    assert verify_invoice(fast).valid and verify_invoice(general).valid


# Text that needs escaping in the data (and a CR, which C14N writes as &#xD;).
AWKWARD = request(lot_name="Bãi \"A\" & <B> 'C'\r\n\tD", plate="30A-123.45 &")


@pytest.mark.parametrize("payload", [request(), AWKWARD], ids=["plain", "awkward"])
@pytest.mark.parametrize("style", STYLES_FOR_PATHS)
def test_signing_the_written_text_agrees_with_signing_the_tree(
    style: SignatureStyle,
    payload: dict[str, object],
    make_invoice: Callable[..., Invoice],
    seller_signer: Signer,
    authority_signer: Signer,
) -> None:
    """The issuing path signs the invoice as written (no tree, no C14N pass): the signature is
    the one the tree path makes, it verifies, and the authority can countersign it."""
    signer = seller_signer.with_style(style)
    invoice = make_invoice(payload=payload)
    as_text = signer.sign_seller(hdon_text(invoice), SIGNED_AT)
    as_tree = signer.sign_seller(build_hdon(invoice), SIGNED_AT)

    def values(xml: bytes) -> list[str]:
        root = etree.fromstring(xml)
        return [v.text for v in root.iter(DSIG + "SignatureValue", DSIG + "DigestValue")]

    assert values(as_text) == values(as_tree)
    if payload is AWKWARD:  # lxml writes a CR as &#13;, C14N as &#xD;: the same document
        as_tree = as_tree.replace(b"&#13;", b"&#xD;")
    assert as_text == as_tree
    _ok(as_text)
    assert validate(as_text) == []
    _ok(authority_signer.countersign_authority(as_text, SIGNED_AT), ("seller", "authority"))
    _fails(as_text.replace(b"30A-123.45", b"30A-123.46"), "digest mismatch")


@pytest.mark.parametrize("bad", ["\x01", "\x0b", "\ufffe", "\ud800"])
def test_a_character_xml_cannot_carry_is_refused(
    bad: str, make_invoice: Callable[..., Invoice]
) -> None:
    with pytest.raises(ValueError, match="XML cannot carry"):
        hdon_text(make_invoice(payload=request(plate=f"30A{bad}123.45")))


def test_signing_inside_namespace_declarations(
    make_invoice: Callable[..., Invoice], seller_signer: Signer
) -> None:
    """An HDon with xmlns:xsi/xsd and xml:lang (as .NET serializers write) signs and verifies."""
    plain = to_bytes(build_hdon(make_invoice()))
    decorated = plain.replace(
        b"<HDon>",
        b'<HDon xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        b'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xml:lang="vi">',
        1,
    )
    xml = seller_signer.sign_seller(decorated, SIGNED_AT)
    _ok(xml)
    _fails(xml.replace(b"30A-123.45", b"30A-123.46"), "digest mismatch")
