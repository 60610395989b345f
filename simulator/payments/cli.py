"""``parking payment-provider serve``: the simulated payment providers as a service of their own.

Without ``--providers`` it makes the three demo providers (VNPay-QR-style, MoMo-style, bank
transfer) with fresh secrets and writes the merchant's side of them (the
``PARKING_PAYMENT_PROVIDERS`` line for ``parking serve``, secrets included) to
``--merchant-env``, 0600.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from simulator.payments.config import ServiceConfig, SimProvider, demo_providers, merchant_settings

app = typer.Typer(help="Simulated payment providers (a separate service, as a bank is).")


def _load(path: Path) -> tuple[SimProvider, ...]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return tuple(SimProvider(**item) for item in raw)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the checkout pages and the pull API.")] = 8300,
    webhook_url: Annotated[
        str, typer.Option(help="The merchant's webhook the payments are reported to.")
    ] = "http://127.0.0.1:8000/api/v1/payments/webhook",
    providers: Annotated[
        Path | None,
        typer.Option(help="JSON list of providers: name, label, kind, secret, pulls."),
    ] = None,
    merchant_env: Annotated[
        Path, typer.Option(help="Where to write PARKING_PAYMENT_PROVIDERS for the merchant.")
    ] = Path("payment-providers.env"),
) -> None:
    """Serve the checkout pages (/checkout/<provider>) and the pull API until Ctrl-C."""
    import uvicorn

    from simulator.payments.app import create_provider_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    chosen = _load(providers) if providers else demo_providers()
    base = f"http://{host}:{port}"
    line = "PARKING_PAYMENT_PROVIDERS=" + json.dumps(merchant_settings(chosen, base)) + "\n"
    fd = os.open(merchant_env, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(line)
    typer.echo(f"{len(chosen)} simulated providers on {base}; merchant settings in {merchant_env}")
    config = ServiceConfig(chosen, webhook_url)
    uvicorn.run(create_provider_app(config), host=host, port=port, log_level="warning")
