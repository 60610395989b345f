"""``parking einvoice issue|month|submit|resend-batch|list|show|adjust|replace``: the issuing side.

einvoice may not import the gateway, yet these commands need what the gateway's composition root
makes: the engine (``gateway.db.make_engine``, with its SQLite settings) and the one
:class:`~einvoice.service.InvoicingService` with billing's outbox. ``gateway.cli.einvoice``
registers them and puts an :class:`IssuingContext` in the command context (``ctx.obj``);
configuration comes from the same ``PARKING_*`` settings as every other command.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol, cast

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from billing.domain.vn import group_digits

if TYPE_CHECKING:
    from einvoice.corrections import Correction
    from einvoice.queries import InvoiceDetail
    from einvoice.service import CycleReport, InvoicingService
    from einvoice.submitter import SubmitSummary, Submitter


class IssuingContext(Protocol):
    """What the composition root gives the issuing commands."""

    @property
    def authority_url(self) -> str: ...

    def session_factory(self) -> sessionmaker[Session]: ...

    def invoicing(self, *, send: bool) -> InvoicingService: ...

    def submitter(self, authority_url: str | None = None) -> Submitter: ...


AuthorityUrl = Annotated[
    str | None,
    typer.Option(
        "--authority-url",
        help="Tax authority (default: PARKING_TAX_AUTHORITY_URL).",
        show_default=False,
    ),
]


def _context(ctx: typer.Context) -> IssuingContext:
    if ctx.obj is None:
        raise typer.BadParameter("these commands run as 'parking einvoice ...'")
    return cast(IssuingContext, ctx.obj)


def issue(
    ctx: typer.Context,
    loop: Annotated[bool, typer.Option("--loop", help="Keep running.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between idle polls.")] = 1.0,
    send: Annotated[bool, typer.Option("--send/--no-send", help="Send at once.")] = True,
) -> None:
    """Issue invoices for pending invoice requests and corrections, and send them."""
    service = _context(ctx).invoicing(send=send)
    try:
        if loop:
            stop = threading.Event()
            try:
                service.run_forever(stop, interval)
            except KeyboardInterrupt:
                stop.set()
            return
        _print_cycle(service.run_once())
    finally:
        service.close()


def _print_cycle(report: CycleReport) -> None:
    failed = [r for r in (*report.issued, *report.corrections) if r.outcome == "failed"]
    sent = report.sent
    typer.echo(
        f"issued {sum(r.outcome == 'issued' for r in report.issued)}, "
        f"corrections {sum(r.outcome == 'issued' for r in report.corrections)}, "
        f"failed {len(failed)}"
        + (
            f"; accepted {sent.accepted}, rejected {sent.rejected}, pending {sent.pending}"
            if sent
            else ""
        )
    )
    for r in failed:
        typer.echo(f"  event {r.event_id}: {r.error}", err=True)
    if failed:
        raise typer.Exit(1)


def submit(ctx: typer.Context, authority_url: AuthorityUrl = None) -> None:
    """Send invoices whose retry time has come."""
    _print_summary(_context(ctx).submitter(authority_url).submit_due())


def resend_batch(ctx: typer.Context, authority_url: AuthorityUrl = None) -> None:
    """Send every unanswered invoice now; unsent cash-register invoices go in batches."""
    _print_summary(_context(ctx).submitter(authority_url).resend_batch())


def _print_summary(summary: SubmitSummary) -> None:
    for m in summary.messages:
        typer.echo(
            f"message {m.message_id} ({m.message_type}, {len(m.invoice_ids)} invoices): "
            f"{m.outcome} after {m.attempts} attempts" + (f" - {m.error}" if m.error else "")
        )
    typer.echo(
        f"accepted {summary.accepted}, rejected {summary.rejected}, pending {summary.pending}"
    )


def list_(
    ctx: typer.Context,
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

    with _context(ctx).session_factory()() as session:
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
            group_digits(inv.total_vnd),
        )
    Console().print(table)


def show(
    ctx: typer.Context,
    invoice_id: int,
    authority_url: AuthorityUrl = None,
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
    from einvoice import queries

    wiring = _context(ctx)
    with wiring.session_factory()() as session:
        detail = queries.get_invoice(session, invoice_id)
        if detail is None:
            typer.echo(f"no invoice {invoice_id}", err=True)
            raise typer.Exit(1)
        name, xml = queries.invoice_xml(session, invoice_id)
    if format == "text":
        _print_detail(detail)
        return
    data = _rendition(xml, format, authority_url or wiring.authority_url, detail, public_url)
    target = out or Path(Path(name).stem + "." + format)
    target.write_bytes(data)
    typer.echo(f"wrote {target}")


def _print_detail(detail: InvoiceDetail) -> None:
    for key, value in asdict(detail.invoice).items():
        typer.echo(f"{key:>18}: {value}")
    for change in detail.history:
        typer.echo(f"  {change.at.isoformat()} {change.status} {change.detail or ''}")


def _rendition(
    xml: bytes, format: str, authority_url: str, detail: InvoiceDetail, public_url: str | None
) -> bytes:
    from einvoice import render

    code = detail.invoice.lookup_code or ""
    status, url = detail.invoice.status, render.public_lookup_url(public_url, code)
    if format == "xml":
        return xml
    if format == "html":
        return render.render_html(
            xml, authority_url, status=status, lookup_code=code, public_lookup_url=url
        ).encode()
    if format == "pdf":
        return render.render_pdf(
            xml, authority_url, status=status, lookup_code=code, public_lookup_url=url
        )
    raise typer.BadParameter("format is text, xml, html or pdf")


Event = Annotated[str, typer.Option("--event", help="Gate event of the exit.")]
Reason = Annotated[str, typer.Option(help="Why, printed on the invoice.")]
Key = Annotated[str, typer.Option(help="Idempotency key of this correction.")]


def adjust(
    ctx: typer.Context,
    event_id: Event,
    amount: Annotated[int, typer.Option(help="Signed VND change, e.g. -5000 for a refund.")],
    reason: Reason,
    key: Key,
) -> None:
    """Issue an adjusting invoice (TCHDon 2) for the invoice of an exit."""
    from einvoice.corrections import Correction

    _correct(
        _context(ctx),
        Correction(key, "adjusting", reason, original_event_id=event_id, delta_vnd=amount),
    )


def replace(
    ctx: typer.Context,
    event_id: Event,
    plate: Annotated[str, typer.Option(help="The correct plate.")],
    reason: Reason,
    key: Key,
) -> None:
    """Issue a replacing invoice (TCHDon 1) with the corrected plate."""
    from einvoice.corrections import Correction

    _correct(
        _context(ctx),
        Correction(key, "replacing", reason, original_event_id=event_id, changes={"plate": plate}),
    )


def _correct(wiring: IssuingContext, correction: Correction) -> None:
    from einvoice.corrections import CorrectionError, correct

    service = wiring.invoicing(send=False)
    try:
        invoice_id = correct(service.worker.session_factory, service.worker.maker, correction)
    except CorrectionError as exc:
        typer.echo(f"cannot correct: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"invoice {invoice_id} issued; send it with 'parking einvoice submit'")


def month(
    ctx: typer.Context,
    period: Annotated[
        str | None,
        typer.Option(
            "--month",
            help="YYYY-MM, an ended month (default: every ended month with passages waiting).",
            show_default=False,
        ),
    ] = None,
    account: Annotated[str | None, typer.Option(help="Only this transport account.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON array of objects, for scripts.")
    ] = False,
) -> None:
    """Issue the monthly consolidated invoices of accounts with the monthly option (the running
    invoice worker does this by itself once a month has ended)."""
    from einvoice.monthly import ConsolidatingMaker, MonthNotOver, due_periods, issue_month

    service = _context(ctx).invoicing(send=False)
    worker = service.worker
    try:
        if not isinstance(worker.maker, ConsolidatingMaker):
            typer.echo("this signer cannot make consolidated invoices", err=True)
            raise typer.Exit(1)
        with worker.session_factory() as s:
            periods = [period] if period else due_periods(s, worker.clock())
        results = []
        for p in periods:
            try:
                results += issue_month(
                    worker.session_factory, worker.maker, p, clock=worker.clock, account_id=account
                )
            except MonthNotOver as exc:
                typer.echo(f"cannot issue: {exc}", err=True)
                raise typer.Exit(2) from None
    finally:
        service.close()
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], ensure_ascii=False))
    else:
        table = Table(box=box.SIMPLE)
        for column in ("month", "account", "seller", "invoice", "passages", "total VND"):
            table.add_column(column)
        for r in results:
            table.add_row(
                r.period,
                r.account_id,
                r.seller_tax_code,
                str(r.invoice_id or r.error or ""),
                str(r.passages),
                group_digits(r.total_vnd),
            )
        Console(width=80).print(table)
        typer.echo(f"issued {sum(r.outcome == 'issued' for r in results)} monthly invoices")
    if any(r.outcome == "failed" for r in results):
        raise typer.Exit(1)


COMMANDS: dict[str, Callable[..., None]] = {
    "month": month,
    "issue": issue,
    "submit": submit,
    "resend-batch": resend_batch,
    "list": list_,
    "show": show,
    "adjust": adjust,
    "replace": replace,
}


def register(app: typer.Typer) -> None:
    """Add the issuing commands to an ``einvoice`` app whose callback sets ``ctx.obj``."""
    for name, command in COMMANDS.items():
        app.command(name)(command)
