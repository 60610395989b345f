"""``parking serve`` (API + MQTT consumer), ``parking worker`` (invoices), ``parking demo``."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from gateway.settings import get_settings
from gateway.signals import stop_on_signals

log = logging.getLogger(__name__)


def _logging() -> None:
    from gateway.logging import configure_logging

    configure_logging(json_lines=get_settings().log_json)


def serve(
    no_lpr: Annotated[
        bool, typer.Option("--no-lpr", help="no plate readers: gates must send plate text")
    ] = False,
) -> None:
    """Run the HTTP API and the MQTT consumer in one process until SIGINT/SIGTERM."""
    from gateway.app import create_app
    from gateway.bootstrap import build, build_consumer
    from gateway.demo import ConsumerThread, UvicornThread
    from gateway.retention import start_retention

    _logging()
    settings = get_settings()
    with stop_on_signals() as stop:  # first thing: a signal while starting up is not lost
        container = build(settings)
        retention = start_retention(settings, container.uow_factory)
        consumer = ConsumerThread(build_consumer(container, read_plates=not no_lpr))
        api = None
        try:
            # A broker that is not up yet (or restarting) is waited for, not a reason to exit:
            # the consumer connects with backoff, and /readyz answers 503 until it is in.
            consumer.start(timeout=None)
            if not stop.is_set():
                api = UvicornThread(
                    create_app(settings, container), settings.http_host, settings.http_port, "api"
                )
                api.start()
                typer.echo(
                    f"serving http://{settings.http_host}:{settings.http_port}; consumer "
                    f"connecting to {settings.mqtt_host}:{settings.mqtt_port} (see /readyz)"
                )
            _wait(stop, alive=consumer.thread.is_alive)
        finally:
            if api is not None:
                api.stop()
            consumer.stop()
            if retention is not None:
                retention.stop()
            container.close()
    if consumer.error is not None:
        raise typer.Exit(1)


def worker() -> None:
    """Run the invoice worker (requests, refunds, corrections), the submitter and the auto
    top-ups until SIGINT/SIGTERM. Signs with PARKING_SIGNING_PKCS12, else a demo key per seller."""
    from gateway.bootstrap import build, build_invoice_services

    _logging()
    with stop_on_signals() as stop:
        container = build(get_settings())
        try:
            services = build_invoice_services(container)
            thread = threading.Thread(target=services.run, args=(stop,), name="invoices")
            thread.start()
            typer.echo("invoice worker and submitter running (and auto top-ups)")
            _wait(stop)
            thread.join(30)
        finally:
            container.close()


def demo(
    duration: Annotated[
        float | None,
        typer.Option("--duration", help="seconds of traffic, then a JSON summary and exit"),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="default: $PARKING_DATA_DIR/demo")
    ] = None,
    http_port: Annotated[int, typer.Option("--http-port")] = 8000,
    tax_port: Annotated[int, typer.Option("--tax-port")] = 8100,
    payment_port: Annotated[
        int, typer.Option("--payment-port", help="the simulated payment providers' service")
    ] = 8300,
    broker: Annotated[str, typer.Option("--broker", help="auto, mosquitto or amqtt")] = "auto",
    camera_text: Annotated[
        bool, typer.Option("--camera-text", help="cameras send plate text (skip plate reading)")
    ] = False,
    rate: Annotated[
        float, typer.Option("--rate", help="arrivals per simulated hour at normal traffic")
    ] = 200.0,
    time_scale: Annotated[
        float, typer.Option("--time-scale", help="simulated seconds per real second")
    ] = 120.0,
) -> None:
    """The whole system on one machine: broker, gateway, invoices, mock tax authority,
    simulated payment providers, traffic."""
    from gateway.demo import DemoOptions, demo_summary_json, run_demo

    _logging()
    # The console shows the URLs and problems; per-passage lines stay at INFO for `serve`.
    for name in (
        "gateway.consumer",
        "gateway.outbox_publisher",
        "edge",
        "billing",
        "einvoice",
        "simulator.tax_authority",
        "alembic",
        "lpr",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    settings = get_settings()
    opts = DemoOptions(
        data_dir=data_dir or settings.data_dir / "demo",
        duration_s=duration,
        http_port=http_port,
        tax_port=tax_port,
        payment_port=payment_port,
        broker=broker,
        read_plates=not camera_text,
        arrivals_per_hour=rate,
        time_scale=time_scale,
        lpr_workers=settings.lpr_workers,
    )
    with stop_on_signals() as stop:
        result = run_demo(opts, echo=lambda s: typer.echo(s, err=duration is not None), stop=stop)
    if result is not None:
        sys.stdout.write(demo_summary_json(result) + "\n")
        sys.stdout.flush()


def _wait(stop: threading.Event, alive: Callable[[], bool] = lambda: True) -> None:
    """Until SIGINT/SIGTERM (``stop``), or until ``alive`` says the main part has died."""
    while not stop.is_set() and alive():
        stop.wait(1)
    stop.set()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("demo")(demo)
