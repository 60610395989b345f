from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from einvoice.cli import app
from einvoice.keys import DemoKeys
from einvoice.model import Invoice
from einvoice.signing import Signer
from einvoice.xml_build import build_hdon
from gateway.cli import app as parking_app

from .conftest import SIGNED_AT

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
