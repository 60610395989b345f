"""``parking einvoice issue|submit|resend-batch|list|show|adjust|replace``: the issuing side.

einvoice may not import the gateway, so these commands read the same ``PARKING_*`` variables
as gateway.settings through their options (database URL, data directory, tax-authority URL,
signing key) instead of importing it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from einvoice.corrections import Correction
    from einvoice.service import InvoicingService
    from einvoice.submitter import SubmitSummary, Submitter

DbUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="PARKING_DATABASE_URL", help="SQLAlchemy URL."),
]
DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar="PARKING_DATA_DIR", help="Data directory.")
]
AuthorityUrl = Annotated[
    str,
    typer.Option("--authority-url", envvar="PARKING_TAX_AUTHORITY_URL", help="Tax authority."),
]
Pkcs12 = Annotated[
    Path | None,
    typer.Option("--pkcs12", envvar="PARKING_SIGNING_PKCS12", help="Seller key (PKCS#12)."),
]
Password = Annotated[
    str | None,
    typer.Option("--pkcs12-password", envvar="PARKING_SIGNING_PKCS12_PASSWORD", hidden=True),
]
DEFAULT_AUTHORITY = "http://127.0.0.1:8100"


def _sessions(url: str | None, data_dir: Path) -> sessionmaker[Session]:
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(data_dir / 'parking.db').as_posix()}"
    return sessionmaker(bind=create_engine(url), expire_on_commit=False)


def _service(
    url: str | None, data_dir: Path, authority: str | None, pkcs12: Path | None, pw: str | None
) -> InvoicingService:
    from einvoice.service import build_service

    return build_service(
        _sessions(url, data_dir),
        authority_url=authority,
        pkcs12=pkcs12,
        pkcs12_password=pw,
        keys_dir=data_dir / "keys",
    )


def register(app: typer.Typer) -> None:
    """Add the issuing commands to the ``einvoice`` app."""

    @app.command()
    def issue(
        database_url: DbUrl = None,
        data_dir: DataDir = Path("var"),
        authority_url: AuthorityUrl = DEFAULT_AUTHORITY,
        pkcs12: Pkcs12 = None,
        pkcs12_password: Password = None,
        loop: Annotated[bool, typer.Option("--loop", help="Keep running.")] = False,
        interval: Annotated[float, typer.Option(help="Seconds between idle polls.")] = 1.0,
        send: Annotated[bool, typer.Option("--send/--no-send", help="Send at once.")] = True,
    ) -> None:
        """Issue invoices for pending invoice requests and corrections, and send them."""
        service = _service(
            database_url, data_dir, authority_url if send else None, pkcs12, pkcs12_password
        )
        if loop:
            stop = threading.Event()
            try:
                service.run_forever(stop, interval)
            except KeyboardInterrupt:
                stop.set()
            return
        report = service.run_once()
        failed = [r for r in (*report.issued, *report.corrections) if r.outcome == "failed"]
        typer.echo(
            f"issued {sum(r.outcome == 'issued' for r in report.issued)}, "
            f"corrections {sum(r.outcome == 'issued' for r in report.corrections)}, "
            f"failed {len(failed)}"
            + (
                f"; accepted {report.sent.accepted}, rejected {report.sent.rejected}, "
                f"pending {report.sent.pending}"
                if report.sent
                else ""
            )
        )
        for r in failed:
            typer.echo(f"  event {r.event_id}: {r.error}", err=True)
        if failed:
            raise typer.Exit(1)

    @app.command()
    def submit(
        database_url: DbUrl = None,
        data_dir: DataDir = Path("var"),
        authority_url: AuthorityUrl = DEFAULT_AUTHORITY,
    ) -> None:
        """Send invoices whose retry time has come."""
        _print_summary(_submitter(database_url, data_dir, authority_url).submit_due())

    @app.command("resend-batch")
    def resend_batch(
        database_url: DbUrl = None,
        data_dir: DataDir = Path("var"),
        authority_url: AuthorityUrl = DEFAULT_AUTHORITY,
    ) -> None:
        """Send every unanswered invoice now; unsent cash-register invoices go in batches."""
        _print_summary(_submitter(database_url, data_dir, authority_url).resend_batch())

    @app.command("list")
    def list_(
        database_url: DbUrl = None,
        data_dir: DataDir = Path("var"),
        status: Annotated[str | None, typer.Option(help="signed|sent|accepted|rejected")] = None,
        lot: Annotated[str | None, typer.Option(help="Lot id.")] = None,
        account: Annotated[str | None, typer.Option(help="Transport account id.")] = None,
        limit: int = 50,
        as_json: Annotated[
            bool, typer.Option("--json", help="One JSON array of objects, for scripts.")
        ] = False,
    ) -> None:
        """List invoices, newest first (every field, MCCQT included, with --json)."""
        from einvoice import queries

        with _sessions(database_url, data_dir)() as session:
            found = queries.list_invoices(
                session, status=status, lot_id=lot, account_id=account, limit=limit
            )
        if as_json:
            records = [{"invoice": inv.key, **asdict(inv)} for inv in found]
            typer.echo(json.dumps(records, ensure_ascii=False, default=str))
            return
        # Six columns fit an 80-column terminal; the 23-character MCCQT is in --json and show.
        table = Table("id", "invoice", "date", "status", "plate", "total VND", box=box.SIMPLE)
        for inv in found:
            table.add_row(
                str(inv.id),
                inv.key,
                inv.issue_date.strftime("%d/%m/%Y"),
                inv.status,
                inv.plate or "",
                f"{inv.total_vnd:,}".replace(",", "."),
            )
        Console().print(table)

    @app.command()
    def show(
        invoice_id: int,
        database_url: DbUrl = None,
        data_dir: DataDir = Path("var"),
        authority_url: AuthorityUrl = DEFAULT_AUTHORITY,
        format: Annotated[str, typer.Option("--format", help="text|xml|html|pdf")] = "text",
        out: Annotated[Path | None, typer.Option("--out", help="Write to a file.")] = None,
        public_url: Annotated[
            str | None,
            typer.Option(
                "--public-url",
                envvar="PARKING_PUBLIC_URL",
                help="Where buyers look invoices up: the QR code points at <it>/tra-cuu.",
            ),
        ] = None,
    ) -> None:
        """Show one invoice with its status history, or write its XML, HTML or PDF."""
        from einvoice import queries, render

        with _sessions(database_url, data_dir)() as session:
            detail = queries.get_invoice(session, invoice_id)
            if detail is None:
                typer.echo(f"no invoice {invoice_id}", err=True)
                raise typer.Exit(1)
            name, xml = queries.invoice_xml(session, invoice_id)
        if format == "text":
            for key, value in asdict(detail.invoice).items():
                typer.echo(f"{key:>18}: {value}")
            for change in detail.history:
                typer.echo(f"  {change.at.isoformat()} {change.status} {change.detail or ''}")
            return
        code = detail.invoice.lookup_code or ""
        status, url = detail.invoice.status, render.public_lookup_url(public_url, code)
        if format == "xml":
            data = xml
        elif format == "html":
            data = render.render_html(
                xml, authority_url, status=status, lookup_code=code, public_lookup_url=url
            ).encode()
        elif format == "pdf":
            data = render.render_pdf(
                xml, authority_url, status=status, lookup_code=code, public_lookup_url=url
            )
        else:
            raise typer.BadParameter("format is text, xml, html or pdf")
        target = out or Path(Path(name).stem + "." + format)
        target.write_bytes(data)
        typer.echo(f"wrote {target}")

    @app.command()
    def adjust(
        event_id: Annotated[str, typer.Option("--event", help="Gate event of the exit.")],
        amount: Annotated[int, typer.Option(help="Signed VND change, e.g. -5000 for a refund.")],
        reason: Annotated[str, typer.Option(help="Why, printed on the invoice.")],
        key: Annotated[str, typer.Option(help="Idempotency key of this correction.")],
        database_url: DbUrl = None,
        data_dir: DataDir = Path("var"),
        pkcs12: Pkcs12 = None,
        pkcs12_password: Password = None,
    ) -> None:
        """Issue an adjusting invoice (TCHDon 2) for the invoice of an exit."""
        from einvoice.corrections import Correction

        _correct(
            Correction(key, "adjusting", reason, original_event_id=event_id, delta_vnd=amount),
            database_url,
            data_dir,
            pkcs12,
            pkcs12_password,
        )

    @app.command()
    def replace(
        event_id: Annotated[str, typer.Option("--event", help="Gate event of the exit.")],
        plate: Annotated[str, typer.Option(help="The correct plate.")],
        reason: Annotated[str, typer.Option(help="Why, printed on the invoice.")],
        key: Annotated[str, typer.Option(help="Idempotency key of this correction.")],
        database_url: DbUrl = None,
        data_dir: DataDir = Path("var"),
        pkcs12: Pkcs12 = None,
        pkcs12_password: Password = None,
    ) -> None:
        """Issue a replacing invoice (TCHDon 1) with the corrected plate."""
        from einvoice.corrections import Correction

        _correct(
            Correction(
                key, "replacing", reason, original_event_id=event_id, changes={"plate": plate}
            ),
            database_url,
            data_dir,
            pkcs12,
            pkcs12_password,
        )


def _submitter(url: str | None, data_dir: Path, authority: str) -> Submitter:
    from einvoice.client import TaxAuthorityClient
    from einvoice.submitter import Submitter

    return Submitter(_sessions(url, data_dir), TaxAuthorityClient(authority))


def _print_summary(summary: SubmitSummary) -> None:
    for m in summary.messages:
        typer.echo(
            f"message {m.message_id} ({m.message_type}, {len(m.invoice_ids)} invoices): "
            f"{m.outcome} after {m.attempts} attempts" + (f" - {m.error}" if m.error else "")
        )
    typer.echo(
        f"accepted {summary.accepted}, rejected {summary.rejected}, pending {summary.pending}"
    )


def _correct(
    correction: Correction,
    url: str | None,
    data_dir: Path,
    pkcs12: Path | None,
    pw: str | None,
) -> None:
    from einvoice.corrections import CorrectionError, correct
    from einvoice.service import build_service

    service = build_service(
        _sessions(url, data_dir),
        authority_url=None,
        pkcs12=pkcs12,
        pkcs12_password=pw,
        keys_dir=data_dir / "keys",
        outbox=_NoOutbox(),
    )
    try:
        invoice_id = correct(service.worker.session_factory, service.worker.maker, correction)
    except CorrectionError as exc:
        typer.echo(f"cannot correct: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"invoice {invoice_id} issued; send it with 'parking einvoice submit'")


class _NoOutbox:
    def claim(self, session: Session, kind: str, limit: int) -> list[object]:
        return []

    def mark_processed(self, session: Session, row_id: int) -> None:
        return None
