"""Our verifier on invoices signed by someone else: xmlsec1 (Debian package) signs templates laid
out the way real providers' files are (doc "Verifying real invoices"), and ``verify_invoice``
must accept every one, read the signer and signing time, and still reject a changed plate,
a changed amount and a re-indented copy.

The other tests sign with our own Signer; here neither the canonicalization nor the digests
nor the signature value come from our code, so a shared misunderstanding cannot hide.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from einvoice.dsig import C14N, C14N_COMMENTS, DIGEST_URI, DSIG_NS, ENVELOPED, SIGNATURE_URI
from einvoice.invoice_request import invoice_from_request
from einvoice.keys import DemoKeys, ensure_demo_keys
from einvoice.model import LOCAL_TZ
from einvoice.verify import verify_invoice
from einvoice.xml_build import build_hdon, to_bytes
from tests.unit.einvoice_xml.conftest import ISSUED_AT, SELLER_MST, request

pytestmark = pytest.mark.integration

SIGNING_TIME = "2026-03-02T10:15:05"  # as many providers write it: local time, no offset
TAX_AUTHORITY_NS = "http://kekhaithue.gdt.gov.vn/TKhaiThue"


@pytest.fixture(scope="module")
def xmlsec1() -> str:
    path = shutil.which("xmlsec1")
    assert path, "xmlsec1 is missing: apt-get install xmlsec1"
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DemoKeys:
    return ensure_demo_keys(
        tmp_path_factory.mktemp("keys"),
        SELLER_MST,
        valid_from=datetime(2025, 1, 1, tzinfo=UTC),
        valid_days=3650,
    )


def provider_template(
    *,
    method: str,
    digest: str,
    signed_info_c14n: str,
    signing_time_ns: str,
    pretty: bool,
    explicit_c14n_on_object: bool = False,
) -> bytes:
    """An unsigned invoice with a provider-style Signature template in DSCKS/NBan.

    Default-namespace ``Signature`` (no ``ds:``), references to the DLHDon Id and to an Object
    Id, SigningTime in the given namespace, an X509SubjectName that lies about the signer, and
    optionally the line breaks and indentation many providers leave inside the Signature.
    """
    hdon = build_hdon(
        invoice_from_request(request(), number=7, issued_at=ISSUED_AT, mccqt_sequence=7)
    )
    data_id = hdon.find("DLHDon").get("Id")

    def brk(depth: int) -> str:
        return "\n" + "  " * depth if pretty else ""

    props_ns = {"dsig": "", "none": ' xmlns=""', "authority": f' xmlns="{TAX_AUTHORITY_NS}"'}
    object_transforms = (
        f'<Transforms><Transform Algorithm="{C14N}"/></Transforms>'
        if explicit_c14n_on_object
        else ""
    )
    signature = (
        f'<Signature xmlns="{DSIG_NS}" Id="seller-sig">{brk(1)}<SignedInfo>'
        f'{brk(2)}<CanonicalizationMethod Algorithm="{signed_info_c14n}"/>'
        f'{brk(2)}<SignatureMethod Algorithm="{SIGNATURE_URI[method]}"/>'
        f'{brk(2)}<Reference URI="#{data_id}">'
        f'{brk(3)}<Transforms><Transform Algorithm="{ENVELOPED}"/></Transforms>'
        f'{brk(3)}<DigestMethod Algorithm="{DIGEST_URI[digest]}"/>{brk(3)}<DigestValue/>'
        f"{brk(2)}</Reference>"
        f'{brk(2)}<Reference URI="#SigningTime">{object_transforms}'
        f'<DigestMethod Algorithm="{DIGEST_URI[digest]}"/><DigestValue/></Reference>'
        f"{brk(1)}</SignedInfo>{brk(1)}<SignatureValue/>"
        f"{brk(1)}<KeyInfo><X509Data><X509SubjectName>CN=Forged,UID=MST:0309999999"
        f"</X509SubjectName><X509Certificate/></X509Data></KeyInfo>"
        f'{brk(1)}<Object Id="SigningTime"><SignatureProperties{props_ns[signing_time_ns]}>'
        f'<SignatureProperty Target="#seller-sig"><SigningTime>{SIGNING_TIME}</SigningTime>'
        f"</SignatureProperty></SignatureProperties></Object>{brk(0)}</Signature>"
    )
    hdon.find("DSCKS/NBan").append(etree.fromstring(signature))
    return to_bytes(hdon)


def xmlsec1_sign(xmlsec1: str, keys: DemoKeys, template: bytes, tmp_path: Path) -> bytes:
    src, out = tmp_path / "template.xml", tmp_path / "signed.xml"
    src.write_bytes(template)
    result = subprocess.run(
        [
            xmlsec1,
            "--sign",
            "--pkcs12",
            str(keys.seller_pkcs12),
            "--pwd",
            keys.password,
            "--id-attr:Id",
            "DLHDon",
            "--id-attr:Id",
            f"{DSIG_NS}:Object",
            "--output",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


STYLES = {
    f"{method}-{'comments' if c14n == C14N_COMMENTS else 'c14n'}-st_{ns}-{layout}": (
        method,
        digest,
        c14n,
        ns,
        layout == "pretty",
    )
    for method, digest in (("rsa-sha1", "sha1"), ("rsa-sha256", "sha256"))
    for c14n in (C14N, C14N_COMMENTS)
    for ns in ("dsig", "none", "authority")
    for layout in ("compact", "pretty")
}


@pytest.mark.parametrize("style", list(STYLES.values()), ids=list(STYLES))
def test_provider_style_signature_made_by_xmlsec1_verifies(
    xmlsec1: str,
    keys: DemoKeys,
    tmp_path: Path,
    style: tuple[str, str, str, str, bool],
) -> None:
    method, digest, c14n, ns, pretty = style
    template = provider_template(
        method=method, digest=digest, signed_info_c14n=c14n, signing_time_ns=ns, pretty=pretty
    )
    signed = xmlsec1_sign(xmlsec1, keys, template, tmp_path)

    report = verify_invoice(signed)
    assert report.valid, report.error
    (sig,) = report.signatures
    assert (sig.role, sig.algorithm, sig.digest) == ("seller", method, digest)
    assert sig.signer_tax_code == SELLER_MST  # from the certificate, not X509SubjectName
    assert sig.signing_time == datetime(2026, 3, 2, 10, 15, 5, tzinfo=LOCAL_TZ)

    for old, new in ((b"30A-123.45", b"30A-123.46"), (b"<TgTTTBSo>25000<", b"<TgTTTBSo>26000<")):
        changed = verify_invoice(signed.replace(old, new, 1))
        assert not changed.valid and "digest mismatch" in (changed.error or "")
    flat = etree.fromstring(signed, etree.XMLParser(remove_blank_text=True))
    reindented = etree.tostring(flat, pretty_print=True, xml_declaration=True, encoding="UTF-8")
    assert not verify_invoice(reindented).valid


def test_explicit_c14n_transform_and_file_wrappers(
    xmlsec1: str, keys: DemoKeys, tmp_path: Path
) -> None:
    template = provider_template(
        method="rsa-sha1",
        digest="sha1",
        signed_info_c14n=C14N,
        signing_time_ns="none",
        pretty=True,
        explicit_c14n_on_object=True,
    )
    signed = xmlsec1_sign(xmlsec1, keys, template, tmp_path)
    body = signed.split(b"?>", 1)[1].lstrip(b"\r\n")
    variants = {
        "as signed": signed,
        "no declaration": body,
        "BOM": b"\xef\xbb\xbf" + signed,
        "stylesheet": signed.replace(
            b"?>", b'?>\n<?xml-stylesheet type="text/xsl" href="hoadon.xsl"?>', 1
        ),
        "TDiep 202": (
            b"<TDiep><TTChung><PBan>2.1.0</PBan><MLTDiep>202</MLTDiep></TTChung><DLieu>"
            + body
            + b"</DLieu></TDiep>"
        ),
    }
    for name, xml in variants.items():
        report = verify_invoice(xml)
        assert report.valid, (name, report.error)
