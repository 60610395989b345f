"""``parking einvoice verify``: check the signatures of invoice files, ours or any provider's.

``app`` here holds the verifier alone (it needs no database); ``parking einvoice`` is
``gateway.cli.einvoice.app``, which adds the issuing commands (``einvoice.cli_issue``)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography import x509
from rich.console import Console

from einvoice.verify import VerificationReport, verify_invoice
from einvoice.xmlsafe import MAX_XML_BYTES

app = typer.Typer(name="einvoice", help="Verify e-invoice signatures.", no_args_is_help=True)


@app.callback()
def _einvoice() -> None:
    """Verify e-invoice signatures."""


def _zip_members(path: Path) -> Iterator[tuple[str, bytes | str]]:
    """The XML files of a ZIP (how the authority's portal and providers hand invoices out).

    Yields (name, bytes) or (name, reason it was not read); sizes are checked before reading,
    so a compressed bomb is refused rather than inflated.
    """
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if m.filename.lower().endswith(".xml")]
        if not members:
            yield f"{path}", "no .xml file in the archive"
        for member in members:
            name = f"{path}!{member.filename}"
            if member.file_size > MAX_XML_BYTES:
                yield name, f"XML too large: {member.file_size} bytes > {MAX_XML_BYTES}"
                continue
            with archive.open(member) as fh:
                yield name, fh.read(MAX_XML_BYTES + 1)


def _reports(
    files: list[Path], anchors: list[x509.Certificate] | None
) -> Iterator[tuple[str, VerificationReport]]:
    for path in files:
        try:
            # Only a regular file is probed for a ZIP: the probe reads a device (/dev/zero)
            # or a pipe to its end, which may never come.
            if path.is_file() and zipfile.is_zipfile(path):
                for name, content in _zip_members(path):
                    if isinstance(content, str):
                        yield name, VerificationReport(False, content, ())
                    else:
                        yield name, verify_invoice(content, trusted=anchors)
                continue
            with path.open("rb") as fh:  # at most the limit + 1: /dev/zero never ends
                data = fh.read(MAX_XML_BYTES + 1)
            if len(data) > MAX_XML_BYTES:
                yield (
                    str(path),
                    VerificationReport(
                        False, f"XML too large: more than {MAX_XML_BYTES} bytes", ()
                    ),
                )
                continue
        except (OSError, zipfile.BadZipFile) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            yield str(path), VerificationReport(False, f"cannot read file: {reason}", ())
            continue
        yield str(path), verify_invoice(data, trusted=anchors)


def _json_report(path: str, report: VerificationReport) -> dict[str, Any]:
    signatures = []
    for sig in report.signatures:
        item = asdict(sig)
        item["signing_time"] = sig.signing_time.isoformat() if sig.signing_time else None
        signatures.append(item)
    return {
        "file": path,
        "valid": report.valid,
        "error": report.error,
        "signatures": signatures,
    }


def _load_trusted(paths: list[Path]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for path in paths:
        data = path.read_bytes()
        if b"-----BEGIN" in data:
            certs.extend(x509.load_pem_x509_certificates(data))
        else:
            certs.append(x509.load_der_x509_certificate(data))
    return certs


@app.command("verify")
def verify_command(
    files: Annotated[
        list[Path], typer.Argument(help="invoice XML files (HDon or TDiep), or ZIPs of them")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object per file, per line")
    ] = False,
    trusted: Annotated[
        list[Path] | None,
        typer.Option("--trusted", help="CA certificate (PEM/DER) the signers must chain to"),
    ] = None,
) -> None:
    """Check every signature in each file; exit 1 if any file is not valid."""
    anchors = _load_trusted(trusted) if trusted else None
    console = Console(soft_wrap=True)
    all_valid = True
    for path, report in _reports(files, anchors):
        all_valid &= report.valid
        if as_json:
            typer.echo(json.dumps(_json_report(path, report), ensure_ascii=False))
            continue
        status = "[green]VALID[/green]" if report.valid else "[red]INVALID[/red]"
        console.print(f"{path}: {status}" + (f" - {report.error}" if report.error else ""))
        for sig in report.signatures:
            mark = "[green]ok[/green]" if sig.valid else "[red]FAIL[/red]"
            when = sig.signing_time.isoformat() if sig.signing_time else "-"
            algorithm = f"{sig.algorithm or '?'}/{sig.digest or '?'}"
            console.print(
                f"  {sig.invoice or '-'} {sig.role:<9} {mark} {algorithm}"
                f" MST {sig.signer_tax_code or '?'} signed {when}"
                + (f" - {sig.reason}" if sig.reason else ""),
                highlight=False,
            )
            for note in sig.notes:
                console.print(f"    note: {note}", highlight=False, markup=False)
    if not all_valid:
        raise typer.Exit(code=1)
