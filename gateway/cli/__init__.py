"""The ``parking`` command: one Typer app, each area's commands in a module of its own.

Only the commands that need nothing beyond the base install are imported here (the broker
configuration and the service commands, which import their parts when they run). Every group
that needs an optional extra, billing's and the database's included (``parking[db]``), is
imported when it runs (``gateway.cli.lazy``), so a gate box (``parking[edge]``, no SQLAlchemy)
still has a working ``parking --help`` and ``parking edge ...``.

Errors are reported here, once for every command (``gateway.cli.errors``): one line on stderr
and an exit code that says what failed, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, ClassVar

import typer

from gateway.cli import mqtt, service
from gateway.cli.errors import ExitCode, debug_enabled, describe, traceback_text
from gateway.cli.lazy import Lazy, LazyGroup


def _db(target: str, help: str) -> Lazy:
    return Lazy(target, "db", help)


class ParkingGroup(LazyGroup):
    lazy: ClassVar[dict[str, Lazy]] = {
        "reconcile": _db(
            "gateway.cli.billing:reconcile",
            "Tie passages, sessions, fares, ledger, top-ups and invoices of one day; list every "
            "mismatch.",
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
        "lists": _db(
            "gateway.cli.lists:app",
            "Plate lists of each lot: blacklist (kept closed), whitelist (free), VIP (never held).",
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
        "payment-provider": Lazy(
            "simulator.payments.cli:app",
            "simulator",
            "Simulated payment providers (checkout pages, signed webhooks), a separate service.",
        ),
    }

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; whatever escapes it becomes one line on stderr and an exit code."""
        argv = list(sys.argv[1:] if args is None else args)
        try:
            rv = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else ExitCode.OK
        except (Exception, KeyboardInterrupt) as exc:  # click's Abort is an Exception
            command = next((a for a in argv if not a.startswith("-")), "")
            lazy = self.lazy.get(command)
            needs = COMMAND_EXTRAS.get(command) or (lazy.extra if lazy is not None else None)
            failure = describe(exc, f"parking {command}".strip(), needs)
            if debug_enabled():
                sys.stderr.write(traceback_text(exc))
            if failure.message:
                typer.echo(failure.line, err=True)
            code = failure.code
        if standalone_mode:
            sys.exit(int(code))
        return int(code)


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
    """The console entry (``parking``); errors are reported by :class:`ParkingGroup`."""
    app(prog_name="parking")
