"""xmlsec1 (Debian package, libxmlsec1) verifies our signatures independently of our verifier."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from einvoice.dsig import C14N_COMMENTS
from einvoice.invoice_request import invoice_from_request
from einvoice.keys import DemoKeys, ensure_demo_keys
from einvoice.model import LOCAL_TZ
from einvoice.signing import SignatureStyle, Signer
from einvoice.verify import verify_invoice
from einvoice.xml_build import build_hdon, hdon_text, to_bytes
from tests.unit.einvoice_xml.builders import authority_202
from tests.unit.einvoice_xml.conftest import ISSUED_AT, SELLER_MST, request

SIGNED_AT = datetime(2026, 3, 2, 10, 15, 5, tzinfo=LOCAL_TZ)
SELLER = "//*[local-name()='NBan']/*[local-name()='Signature']"
AUTHORITY = "//*[local-name()='CQT']/*[local-name()='Signature']"


@pytest.fixture(scope="module")
def xmlsec1() -> str:
    path = shutil.which("xmlsec1")
    assert path, (
        "xmlsec1 is missing: apt-get install xmlsec1 (scripts/bootstrap.sh --system-test-deps)"
    )
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DemoKeys:
    # Valid now (xmlsec1 checks the chain at the current time) and at SIGNED_AT.
    return ensure_demo_keys(
        tmp_path_factory.mktemp("keys"),
        SELLER_MST,
        valid_from=datetime(2025, 1, 1, tzinfo=UTC),
        valid_days=3650,
    )


def run_xmlsec1(
    xmlsec1: str, xml: bytes, ca: Path, node: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "invoice.xml"
    path.write_bytes(xml)
    return subprocess.run(
        [
            xmlsec1,
            "--verify",
            "--id-attr:Id",
            "DLHDon",
            "--id-attr:Id",
            "http://www.w3.org/2000/09/xmldsig#:Object",
            "--id-attr:Id",
            "MCCQT",
            "--trusted-pem",
            str(ca),
            "--node-xpath",
            node,
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _signed(
    keys: DemoKeys, style: SignatureStyle = SignatureStyle(), countersign: bool = False
) -> bytes:
    seller = Signer.from_pkcs12(keys.seller_pkcs12, keys.password, style)
    hdon = build_hdon(
        invoice_from_request(request(), number=5, issued_at=ISSUED_AT, mccqt_sequence=5)
    )
    xml = seller.sign_seller(hdon, SIGNED_AT)
    if countersign:
        authority = Signer.from_pkcs12(keys.authority_pkcs12, keys.password)
        xml = authority.countersign_authority(hdon, SIGNED_AT)
    assert verify_invoice(xml).valid
    return xml


STYLES = {
    "default": SignatureStyle(),
    "rsa-sha1": SignatureStyle(method="rsa-sha1", digest="sha1"),
    "signing-time-no-namespace": SignatureStyle(signing_time_ns=None),
    "signing-time-other-namespace": SignatureStyle(signing_time_ns="urn:tax-authority:ns"),
    "ds-prefix-with-comments-explicit-c14n": SignatureStyle(
        prefix="ds", signed_info_c14n=C14N_COMMENTS, explicit_c14n_transform=True
    ),
}


@pytest.mark.parametrize("style", list(STYLES.values()), ids=list(STYLES))
def test_xmlsec1_verifies_seller_signature(
    xmlsec1: str, keys: DemoKeys, style: SignatureStyle, tmp_path: Path
) -> None:
    result = run_xmlsec1(xmlsec1, _signed(keys, style), keys.ca_cert, SELLER, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("OK")
    assert "SignedInfo References (ok/all): 2/2" in result.stderr


@pytest.mark.parametrize("style", list(STYLES.values()), ids=list(STYLES))
def test_xmlsec1_verifies_invoices_signed_as_written_text(
    xmlsec1: str, keys: DemoKeys, style: SignatureStyle, tmp_path: Path
) -> None:
    """The issuing path signs the invoice as canonical text, never parsed: xmlsec1 agrees, with
    text that needs escaping in the data, and so it does once the authority countersigned."""
    seller = Signer.from_pkcs12(keys.seller_pkcs12, keys.password, style)
    payload = request(lot_name="Bãi \"A\" & <B> 'C'\r\n\tD", plate="30A-123.45 &")
    invoice = invoice_from_request(payload, number=6, issued_at=ISSUED_AT, mccqt_sequence=6)
    xml = seller.sign_seller(hdon_text(invoice), SIGNED_AT)
    result = run_xmlsec1(xmlsec1, xml, keys.ca_cert, SELLER, tmp_path)
    assert result.returncode == 0, result.stderr
    authority = Signer.from_pkcs12(keys.authority_pkcs12, keys.password)
    both = authority.countersign_authority(xml, SIGNED_AT)
    for node in (SELLER, AUTHORITY):
        result = run_xmlsec1(xmlsec1, both, keys.ca_cert, node, tmp_path)
        assert result.returncode == 0, result.stderr


def test_xmlsec1_verifies_authority_countersignature(
    xmlsec1: str, keys: DemoKeys, tmp_path: Path
) -> None:
    xml = _signed(keys, countersign=True)
    for node, refs in ((SELLER, "2/2"), (AUTHORITY, "3/3")):
        result = run_xmlsec1(xmlsec1, xml, keys.ca_cert, node, tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"SignedInfo References (ok/all): {refs}" in result.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [(b"<TgTTTBSo>25000<", b"<TgTTTBSo>26000<"), (b"30A-123.45", b"30A-123.46")],
    ids=["amount", "plate"],
)
def test_xmlsec1_rejects_tampered_invoice(
    xmlsec1: str, keys: DemoKeys, old: bytes, new: bytes, tmp_path: Path
) -> None:
    xml = _signed(keys).replace(old, new, 1)
    result = run_xmlsec1(xmlsec1, xml, keys.ca_cert, SELLER, tmp_path)
    assert result.returncode != 0
    assert not verify_invoice(xml).valid  # ...and so does ours


def test_xmlsec1_rejects_an_untrusted_signer(xmlsec1: str, keys: DemoKeys, tmp_path: Path) -> None:
    other = ensure_demo_keys(tmp_path / "other", SELLER_MST)
    result = run_xmlsec1(xmlsec1, _signed(keys), other.ca_cert, SELLER, tmp_path)
    assert result.returncode != 0


def test_dotnet_style_enveloped_object_reference(
    xmlsec1: str, keys: DemoKeys, tmp_path: Path
) -> None:
    """The case where we follow .NET on purpose: strict xmlsec1 digests an empty set and fails."""
    xml = _signed(keys, SignatureStyle(enveloped_on_object=True))
    result = run_xmlsec1(xmlsec1, xml, keys.ca_cert, SELLER, tmp_path)
    assert result.returncode != 0
    assert verify_invoice(xml).valid


def test_xmlsec1_verifies_the_real_202_layout(xmlsec1: str, keys: DemoKeys, tmp_path: Path) -> None:
    seller = Signer.from_pkcs12(keys.seller_pkcs12, keys.password)
    authority = Signer.from_pkcs12(keys.authority_pkcs12, keys.password)
    unsigned = build_hdon(invoice_from_request(request(), number=1, issued_at=ISSUED_AT))
    xml = authority_202(to_bytes(unsigned), seller, authority, real_subject_names=True)
    assert verify_invoice(xml).valid
    for node, refs in ((SELLER, "2/2"), (AUTHORITY, "3/3")):
        result = run_xmlsec1(xmlsec1, xml, keys.ca_cert, node, tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"SignedInfo References (ok/all): {refs}" in result.stderr
