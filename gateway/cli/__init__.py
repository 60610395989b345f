"""The ``parking`` command: one Typer app, each area's commands in a module of its own.

Only the commands that need nothing beyond the base install are imported here (the broker
configuration and the service commands, which import their parts when they run). Every group
that needs an optional extra, billing's and the database's included (``parking[db]``), is
imported when it runs (``gateway.cli.lazy``), so a gate box (``parking[edge]``, no SQLAlchemy)
still has a working ``parking --help`` and ``parking edge ...``.
"""

from __future__ import annotations

import sys
from typing import ClassVar

import typer

from gateway.cli import mqtt, service
from gateway.cli.lazy import Lazy, LazyGroup, install_hint, missing_extra


def _db(target: str, help: str) -> Lazy:
    return Lazy(target, "db", help)


class ParkingGroup(LazyGroup):
    lazy: ClassVar[dict[str, Lazy]] = {
        "topup": _db(
            "gateway.cli.billing:topup",
            "Top up a transport account; the same provider transaction is only ever credited once.",
        ),
        "reconcile": _db(
            "gateway.cli.billing:reconcile",
            "Tie passages, sessions, fares, ledger and invoices of one day; list every mismatch.",
        ),
        "refund": _db(
            "gateway.cli.billing_ops:refund",
            "Refund a fare or a pass, in part or in full: a reversing entry and an adjusting "
            "invoice.",
        ),
        "db": _db("gateway.cli.db:app", "Create and migrate the database schema."),
        "images": _db(
            "gateway.cli.images:app", "Camera frames kept with passages (personal data)."
        ),
        "accounts": _db(
            "gateway.cli.billing:accounts",
            "Transport accounts: prepaid balances of drivers and businesses.",
        ),
        "vehicles": _db(
            "gateway.cli.billing:vehicles", "Vehicles (plates) registered on transport accounts."
        ),
        "tariff": _db(
            "gateway.cli.billing:tariff", "Tariff files: list versions, show prices, quote a stay."
        ),
        "lots": _db(
            "gateway.cli.billing:lots", "Lots, their gates, policies and tariffs; demo data."
        ),
        "passes": _db(
            "gateway.cli.billing_ops:passes", "Monthly passes: sell from the prepaid balance, list."
        ),
        "review": _db(
            "gateway.cli.billing_ops:review",
            "The review queue: passages the machine could not settle, and what to do with them.",
        ),
        "edge": Lazy(
            "edge.cli:app",
            "edge",
            "The lot's edge computer: its config file, and checks of its cameras and I/O.",
        ),
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
app.add_typer(mqtt.app, name="mqtt")
service.register(app)


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
