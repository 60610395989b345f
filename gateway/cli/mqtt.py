"""``parking mqtt config``: the production Mosquitto configuration for billing's lots and gates."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from gateway.settings import get_settings

log = logging.getLogger(__name__)

app = typer.Typer(help="The MQTT broker the gates and the gateway meet at.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    log.info("mqtt config refused: %s", message)  # for a configured log; the user reads stderr
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@app.command("config")
def config(
    out: Annotated[
        Path, typer.Option("--out", help="directory for mosquitto.conf, passwd, acl, credentials")
    ],
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 1883,
    bind: Annotated[
        str, typer.Option("--bind", help="listener address (the gates must reach it)")
    ] = "0.0.0.0",
    service_user: Annotated[
        str, typer.Option("--service-user", help="the gateway's broker account")
    ] = "gateway",
    rotate: Annotated[
        bool, typer.Option("--rotate", help="new passwords for every gate and the gateway")
    ] = False,
) -> None:
    """Write a Mosquitto configuration with an account and ACL per gate of the database.

    Passwords of gates (and of the gateway) from an earlier run in OUT are kept, so gates in the
    field keep working; new gates get new ones, removed gates lose theirs. --rotate replaces all.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from billing.adapters.uow import UnitOfWork
    from billing.services import list_gates
    from gateway import broker_credentials as store
    from gateway.db import make_engine, make_session_factory
    from gateway.mosquitto_conf import write_config

    url = get_settings().effective_database_url
    engine = make_engine(url)
    try:
        gates = [(g.lot_id, g.id) for g in list_gates(UnitOfWork(make_session_factory(engine)))]
    except SQLAlchemyError as exc:
        where = url.split("@")[-1]
        reason = str(exc).splitlines()[0]
        raise _fail(
            f"cannot read the gates from {where} ({reason}); run `parking db upgrade`?"
        ) from None
    finally:
        engine.dispose()
    if not gates:
        raise _fail("the database has no gates: add lots and gates first (parking lots ...)")
    try:
        changes = store.plan(store.load(out), service_user, gates, rotate=rotate)
        creds = changes.credentials
        conf = write_config(
            out,
            port=port,
            service_users={creds.service_user: creds.service_password},
            gates=creds.gates,
            bind=bind,
        )
        store.save(out, creds, port=port)
    except ValueError as exc:  # a bad id in the database, an unreadable credentials file
        raise _fail(str(exc)) from None
    lots = sorted({g.lot_id for g in creds.gates})
    typer.echo(f"wrote {conf} (listener {bind}:{port}), {out / 'passwd'}, {out / 'acl'}")
    typer.echo(
        f"{len(creds.gates)} gates in {len(lots)} lots: {len(changes.created)} new, "
        f"{len(changes.kept)} kept, {len(changes.removed)} removed"
        + (" (all passwords rotated)" if rotate else "")
    )
    for username in changes.removed:
        typer.echo(f"  removed {username}")
    typer.echo(f"credentials (0600): {out / store.CREDENTIALS_FILE}")
    typer.echo(
        f"  one file per gate, to install on that gate: {out / store.GATES_DIR}/LOT/GATE.json"
    )
    typer.echo(
        f"  gateway: {out / store.GATEWAY_ENV_FILE} "
        f"(PARKING_MQTT_USERNAME={creds.service_user}, PARKING_MQTT_PASSWORD"
        f"{', new' if changes.service_rotated else ', unchanged'})"
    )
    typer.echo(f"run: mosquitto -c {conf}")
    if bind not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(
            "note: the listener has no TLS; keep it on the gates' private network or add "
            "certfile/keyfile to it"
        )
