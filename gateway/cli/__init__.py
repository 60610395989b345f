"""The ``parking`` command: one Typer app, each area's commands in a module of its own.

Billing, database and broker commands need only the base install and are registered here; the
groups that need an optional extra are imported when they run (``gateway.cli.lazy``), so a
lighter install still has a working ``parking --help`` and ``parking db upgrade``.
"""

from __future__ import annotations

import sys
from typing import ClassVar

import typer

from gateway.cli import billing, db, images, mqtt, service
from gateway.cli.lazy import Lazy, LazyGroup, install_hint, missing_extra


class ParkingGroup(LazyGroup):
    lazy: ClassVar[dict[str, Lazy]] = {
        "users": Lazy(
            "gateway.cli.users:app", "gateway", "Users who sign in: drivers, operators, admins."
        ),
        "lpr": Lazy("lpr.cli:app", "lpr", "Plate reading (offline Vietnamese LPR)."),
        "einvoice": Lazy(
            "gateway.cli.einvoice:app", "einvoice", "Electronic invoices: verify, issue, render."
        ),
        "tax-authority": Lazy(
            "simulator.cli:app",
            "simulator",
            "The mock tax authority (a separate system with its own database).",
        ),
    }


# What a top-level command needs beyond the base install (imported inside the command).
COMMAND_EXTRAS = {"serve": "gateway,einvoice,lpr", "worker": "gateway,einvoice", "demo": "all"}

app = typer.Typer(
    name="parking",
    help="Cashless parking for Vietnam: gates, plate reading, prepaid billing and e-invoices.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ParkingGroup,
)
app.add_typer(db.app, name="db")
app.add_typer(mqtt.app, name="mqtt")
app.add_typer(images.app, name="images")
service.register(app)
billing.register(app)


def main() -> None:
    """The console entry: a command whose optional dependencies are missing says which extra
    to install, instead of a traceback."""
    try:
        app(prog_name="parking")
    except ModuleNotFoundError as exc:
        command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
        lazy = ParkingGroup.lazy.get(command)
        needs = COMMAND_EXTRAS.get(command) or (lazy.extra if lazy is not None else None)
        extra = missing_extra(exc, needs)
        if extra is None:
            raise
        typer.echo(f"error: {install_hint(f'parking {command}'.strip(), extra, exc)}", err=True)
        raise SystemExit(1) from None
