"""The ``parking`` command: one Typer app, each area's commands in a module of its own."""

from __future__ import annotations

import typer

from einvoice import cli as einvoice_cli
from gateway.cli import billing, db, mqtt, service, users
from lpr import cli as lpr_cli
from simulator import cli as simulator_cli

app = typer.Typer(
    name="parking",
    help="Cashless parking for Vietnam: gates, plate reading, prepaid billing and e-invoices.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(mqtt.app, name="mqtt")
app.add_typer(lpr_cli.app, name="lpr")
app.add_typer(einvoice_cli.app, name="einvoice")
app.add_typer(simulator_cli.app, name="tax-authority")
service.register(app)
billing.register(app)


def main() -> None:
    app()
