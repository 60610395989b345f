from __future__ import annotations

import json
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from einvoice.cli import app
from einvoice.keys import DemoKeys
from einvoice.model import Invoice
from einvoice.signing import Signer
from einvoice.xml_build import build_hdon, to_bytes
from gateway.cli import app as parking_app

from .builders import authority_202, signer_with_long_common_name
from .conftest import SELLER_MST, SIGNED_AT

runner = CliRunner()


def test_verify_json_one_object_per_file(
    make_invoice: Callable[..., Invoice],
    seller_signer: Signer,
    tmp_xml: Callable[[str, bytes], Path],
) -> None:
    good = seller_signer.sign_seller(build_hdon(make_invoice()), SIGNED_AT)
    ok = tmp_xml("ok.xml", good)
    bad = tmp_xml("bad.xml", good.replace(b"30A-123.45", b"30A-999.99"))
    result = runner.invoke(app, ["verify", "--json", str(ok), str(bad)])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["file"], x["valid"]) for x in lines] == [(str(ok), True), (str(bad), False)]
    (sig,) = lines[0]["signatures"]
    assert sig["role"] == "seller" and sig["algorithm"] == "rsa-sha256"
    assert sig["signer_tax_code"] == "0101234567"
    assert sig["signing_time"] == "2026-03-02T10:15:05+07:00"
    assert sig["reason"] is None
    assert "digest mismatch" in lines[1]["signatures"][0]["reason"]


def test_verify_text_and_exit_code(
    make_invoice: Callable[..., Invoice],
    seller_signer: Signer,
    tmp_xml: Callable[[str, bytes], Path],
    demo_keys: DemoKeys,
) -> None:
    ok = tmp_xml("ok.xml", seller_signer.sign_seller(build_hdon(make_invoice()), SIGNED_AT))
    result = runner.invoke(app, ["verify", "--trusted", str(demo_keys.ca_cert), str(ok)])
    assert result.exit_code == 0, result.stdout
    assert "VALID" in result.stdout and "0101234567" in result.stdout
    missing = runner.invoke(app, ["verify", str(ok.parent / "missing.xml")])
    assert missing.exit_code == 1 and "cannot read file" in missing.stdout


def test_registered_under_parking(tmp_xml: Callable[[str, bytes], Path]) -> None:
    path = tmp_xml("junk.xml", b"<HDon>")
    result = runner.invoke(parking_app, ["einvoice", "verify", "--json", str(path)])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"].startswith("malformed XML")


def test_verify_reads_zip_archives(signed: bytes, tmp_path: Path) -> None:
    """The authority's portal and providers hand invoices out as ZIPs (XML + a viewer)."""
    archive = tmp_path / "invoice.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("invoice.xml", signed)
        z.writestr("details.js", "ignored")
        z.writestr("tampered.xml", signed.replace(b"30A-123.45", b"30A-123.46"))
    result = runner.invoke(app, ["verify", "--json", str(archive)])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["file"], x["valid"]) for x in lines] == [
        (f"{archive}!invoice.xml", True),
        (f"{archive}!tampered.xml", False),
    ]
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.txt", "no invoice")
    result = runner.invoke(app, ["verify", "--json", str(empty)])
    assert json.loads(result.stdout)["error"] == "no .xml file in the archive"


def test_verify_reports_each_signature_of_a_tdiep_202(
    make_invoice: Callable[..., Invoice],
    seller_signer: Signer,
    authority_signer: Signer,
    tmp_xml: Callable[[str, bytes], Path],
) -> None:
    """A TDiep-wrapped coded invoice: one entry per signature, seller and authority, each with
    its algorithm, the tax code read from its certificate, its signing time, and a reason for
    the one that no longer verifies after the code was changed."""
    unsigned = to_bytes(build_hdon(make_invoice(mccqt_sequence=None)))
    message = authority_202(unsigned, seller_signer, authority_signer)
    ok = tmp_xml("202.xml", message)
    bad = tmp_xml("202-bad.xml", message.replace(b"464828<", b"464829<"))
    result = runner.invoke(app, ["verify", "--json", str(ok), str(bad)])
    assert result.exit_code == 1
    good, altered = (json.loads(line) for line in result.stdout.splitlines())
    assert good["valid"] and good["error"] is None
    seller, authority = good["signatures"]
    assert (seller["role"], seller["algorithm"], seller["valid"]) == ("seller", "rsa-sha256", True)
    assert seller["signer_tax_code"] == SELLER_MST  # the certificate's, not X509SubjectName's
    assert seller["signing_time"] == SIGNED_AT.isoformat()
    assert authority["role"] == "authority" and authority["algorithm"] == "rsa-sha256"
    assert authority["signer_tax_code"] == authority_signer.tax_code
    assert authority["signing_time"] == "2026-03-02T10:16:44+07:00"
    assert not altered["valid"]
    assert [s["valid"] for s in altered["signatures"]] == [True, False]
    assert "digest mismatch for MCCQT" in altered["signatures"][1]["reason"]

    text = runner.invoke(app, ["verify", str(ok)])
    assert text.exit_code == 0
    assert "seller" in text.stdout and "authority" in text.stdout
    assert f"MST {SELLER_MST}" in text.stdout and f"MST {authority_signer.tax_code}" in text.stdout


def test_a_third_partys_certificate_warning_goes_into_the_report_not_stderr(
    make_invoice: Callable[..., Invoice],
    tmp_xml: Callable[[str, bytes], Path],
    demo_keys: DemoKeys,
) -> None:
    """Real providers' certificates may carry a subject attribute longer than 64 characters:
    ``cryptography`` warns when it reads one. That is about the certificate, so the report
    says it; nothing is printed on stderr, and the signature still verifies."""
    signer = signer_with_long_common_name(
        str(demo_keys.directory / "ca.p12"), demo_keys.password, SELLER_MST
    )
    path = tmp_xml("long.xml", signer.sign_seller(build_hdon(make_invoice()), SIGNED_AT))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping the verifier fails the test
        result = runner.invoke(app, ["verify", "--json", str(path)])
    assert result.exit_code == 0, result.stdout
    (sig,) = json.loads(result.stdout)["signatures"]
    assert sig["valid"] and sig["signer_tax_code"] == SELLER_MST
    assert any("length" in note and "64" in note for note in sig["notes"]), sig["notes"]

    text = subprocess.run(
        [sys.executable, "-c", "from einvoice.cli import app; app()", "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert text.returncode == 0, text.stderr
    assert text.stderr == ""
    assert "VALID" in text.stdout and "64" in text.stdout
