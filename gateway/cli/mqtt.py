"""``parking mqtt config``: the production Mosquitto configuration for billing's lots and gates."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.errors import CliError, ExitCode
from gateway.settings import get_settings

if TYPE_CHECKING:
    from gateway.broker_credentials import CredentialPlan

log = logging.getLogger(__name__)

app = typer.Typer(help="The MQTT broker the gates and the gateway meet at.", no_args_is_help=True)


@app.command("config")
def config(
    out: Annotated[
        Path, typer.Option("--out", help="directory for mosquitto.conf, passwd, acl, credentials")
    ],
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 1883,
    bind: Annotated[
        str, typer.Option("--bind", help="listener address (the gates must reach it)")
    ] = "0.0.0.0",
    service_users: Annotated[
        list[str] | None,
        typer.Option(
            "--service-user",
            help="a gateway instance's broker account (repeat it: one per instance); the "
            "broker uses it as that instance's client id. Default: one instance, 'gateway'",
        ),
    ] = None,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="new passwords for every gate and the gateway")
    ] = False,
) -> None:
    """Write a Mosquitto configuration with an account and ACL per gate of the database.

    Passwords of gates (and of the gateway instances) from an earlier run in OUT are kept, so
    gates in the field keep working; new gates get new ones, removed gates lose theirs.
    --rotate replaces all. Every client's id is its username (use_username_as_clientid), so
    each gateway instance gets its own account (--service-user, once per instance).
    """
    from gateway import broker_credentials as store
    from gateway.mosquitto_conf import write_config

    gates = _gates_of_the_database()
    try:
        changes = store.plan(store.load(out), service_users or ["gateway"], gates, rotate=rotate)
        creds = changes.credentials
        conf = write_config(
            out, port=port, service_users=creds.service_users, gates=creds.gates, bind=bind
        )
        store.save(out, creds, port=port)
    except store.CredentialFileError as exc:
        raise CliError(str(exc), ExitCode.FILE) from None
    except ValueError as exc:  # a bad id in the database
        raise CliError(str(exc), ExitCode.REFUSED) from None
    typer.echo(f"wrote {conf} (listener {bind}:{port}), {out / 'passwd'}, {out / 'acl'}")
    for line in summary_lines(out, changes, rotate=rotate):
        typer.echo(line)
    typer.echo(f"run: mosquitto -c {conf}")
    if bind not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(
            "note: the listener has no TLS; keep it on the gates' private network or add "
            "certfile/keyfile to it"
        )


def _gates_of_the_database() -> list[tuple[str, str]]:
    """(lot, gate) of every gate billing knows; refused when there is none."""
    from billing.adapters.uow import UnitOfWork
    from billing.services import list_gates
    from gateway.db import make_engine, make_session_factory

    engine = make_engine(get_settings().effective_database_url)
    try:  # a database that is down or not migrated is reported by gateway.cli.errors (exit 3)
        gates = [(g.lot_id, g.id) for g in list_gates(UnitOfWork(make_session_factory(engine)))]
    finally:
        engine.dispose()
    if not gates:
        raise CliError(
            "the database has no gates: add lots and gates first (parking lots ...)",
            ExitCode.REFUSED,
        )
    return gates


def summary_lines(out: Path, changes: CredentialPlan, *, rotate: bool) -> list[str]:
    """What changed in the accounts, and where each gate's and instance's credentials are."""
    from gateway import broker_credentials as store

    creds = changes.credentials
    lots = sorted({g.lot_id for g in creds.gates})
    lines = [
        f"{len(creds.gates)} gates in {len(lots)} lots: {len(changes.created)} new, "
        f"{len(changes.kept)} kept, {len(changes.removed)} removed"
        + (" (all passwords rotated)" if rotate else ""),
        *(f"  removed {username}" for username in changes.removed),
        f"credentials (0600): {out / store.CREDENTIALS_FILE}",
        f"  one file per gate, to install on that gate: {out / store.GATES_DIR}/LOT/GATE.json",
        f"  one file per gateway instance, client id = its account ({len(creds.services)}):",
    ]
    for service in creds.services:
        state = "new" if service.username in changes.services_new else "unchanged"
        lines.append(
            f"    {store.gateway_env_file(out, service)} (PARKING_MQTT_USERNAME="
            f"{service.username}, PARKING_MQTT_CLIENT_ID={service.username}, password {state})"
        )
    return lines


@app.command("allowlist-key")
def allowlist_key() -> None:
    """Print the public key of the gateway's allow-list signature, for every gate.toml's
    ``[offline] allowlist_public_key`` (the edge refuses lists it does not verify)."""
    from gateway.allowlist import public_key

    typer.echo(public_key(get_settings()))
