"""``parking einvoice``: einvoice's commands, given what the composition root makes for them.

The verifier needs nothing; the issuing commands (``einvoice.cli_issue``) get an engine from
``gateway.db.make_engine`` (the one way engines are made, with SQLite's settings) and the one
invoicing service from ``gateway.invoicing``, billing's outbox included. Loaded on use by the
``parking`` command (``gateway.cli.lazy``): it needs the einvoice extra, not the gateway's.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from einvoice import cli_issue
from einvoice.cli import verify_command
from gateway.db import make_engine, make_session_factory
from gateway.invoicing import build_invoicing
from gateway.settings import Settings

if TYPE_CHECKING:
    from einvoice.service import InvoicingService
    from einvoice.submitter import Submitter

app = typer.Typer(
    name="einvoice", help="Electronic invoices: verify, issue, render.", no_args_is_help=True
)


class Issuing:
    """The issuing commands' :class:`einvoice.cli_issue.IssuingContext`, made on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def authority_url(self) -> str:
        return self.settings.tax_authority_url

    @cached_property
    def _engine(self) -> Engine:
        return make_engine(self.settings.effective_database_url)

    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self._engine)

    def invoicing(self, *, send: bool) -> InvoicingService:
        return build_invoicing(self.settings, self.session_factory(), send=send)

    def submitter(self, authority_url: str | None = None) -> Submitter:
        from einvoice.client import TaxAuthorityClient
        from einvoice.submitter import Submitter

        client = TaxAuthorityClient(authority_url or self.authority_url)
        return Submitter(self.session_factory(), client)

    def close(self) -> None:
        if "_engine" in self.__dict__:
            self._engine.dispose()


@app.callback()
def _einvoice(ctx: typer.Context) -> None:
    """Electronic invoices: verify, issue, render."""
    issuing = Issuing(Settings())  # read now: one command, the environment it runs in
    ctx.obj = issuing
    ctx.call_on_close(issuing.close)


app.command("verify")(verify_command)
cli_issue.register(app)
