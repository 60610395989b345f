"""``parking demo``: the whole system on one machine, wired as in production but embedded.

Started in dependency order and stopped in reverse: broker, mock tax authority, database
(migrated and seeded), consumer (+ plate readers), invoice worker + submitter, HTTP API, then
the simulated gates and their traffic. With a duration, traffic runs that long, the system is
given a bounded time to answer every gate and submit every invoice, and a JSON summary is
printed from the database (what was recorded), not from the simulator's own counters alone.

The data directory outlives a run (accounts, balances, invoices and their numbering carry on),
so the summary covers only the passages recorded since this run started, and the gateway keeps
one MQTT client id across runs: a new id per run would leave a persistent session behind in the
broker's store every time, each queueing status messages for a consumer that never returns.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from gateway import migrate
from gateway.bootstrap import Container, build, build_consumer, build_invoice_services
from gateway.broker import AmqttBroker, MosquittoBroker, embedded_broker, free_port
from gateway.consumer import Consumer
from gateway.mosquitto_conf import GateCredential, new_gate_credential
from gateway.payments.providers import PaymentProvider
from gateway.retention import start_retention
from gateway.settings import Settings

if TYPE_CHECKING:
    from billing.adapters.orm import Operator
    from simulator.traffic import ReviewLookup, Traffic

log = logging.getLogger(__name__)

#: The demo gateway's MQTT client id: the same every run, so its persistent session is resumed.
DEMO_CLIENT_ID = "parking-demo-gateway"


@dataclass
class DemoOptions:
    data_dir: Path = Path("var/demo")
    duration_s: float | None = None
    http_port: int = 8000
    tax_port: int = 8100
    payment_port: int = 8300
    broker: str = "auto"  # auto | mosquitto | amqtt
    read_plates: bool = True  # False: cameras send plate text, no LPR at the gateway
    arrivals_per_hour: float = 200.0
    time_scale: float = 120.0
    lpr_workers: int = 1
    drain_s: float = 45.0
    seed: int = 7


class UvicornThread:
    """A uvicorn server on a thread: started and stopped with the rest of the demo."""

    def __init__(self, app: Any, host: str, port: int, name: str) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.thread.name} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def mock_tax_authority(seller: Operator, data_dir: Path, port: int) -> UvicornThread:
    """The mock tax authority on 127.0.0.1:``port`` (not started yet), knowing billing's
    ``seller`` as its demo seller, so it accepts that seller's invoices."""
    from simulator.tax_authority.app import create_app
    from simulator.tax_authority.settings import TaxAuthoritySettings

    settings = TaxAuthoritySettings(
        data_dir=data_dir,
        seed_demo_seller=True,
        demo_seller_tax_code=seller.tax_code,
        demo_seller_name=seller.name,
        demo_seller_cash_register_code=seller.cash_register_code or "",
    )
    return UvicornThread(create_app(settings), "127.0.0.1", port, "tax-authority")


def simulated_payments(api_port: int, port: int) -> tuple[UvicornThread, list[PaymentProvider]]:
    """The simulated payment providers on 127.0.0.1:``port`` (not started yet), reporting to
    the API's webhook, and the same providers as the gateway must know them (fresh secrets)."""
    from simulator.payments.app import create_provider_app
    from simulator.payments.config import ServiceConfig, demo_providers, merchant_settings

    providers = demo_providers()
    webhook = f"http://127.0.0.1:{api_port}/api/v1/payments/webhook"
    app = create_provider_app(ServiceConfig(providers, webhook))
    merchant = merchant_settings(providers, f"http://127.0.0.1:{port}")
    known = [PaymentProvider.model_validate(p) for p in merchant]
    return UvicornThread(app, "127.0.0.1", port, "payment-providers"), known


class ConsumerThread:
    """The asyncio consumer on its own loop thread, stoppable from the main thread."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="consumer", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self.consumer.run(self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc
            log.exception("consumer stopped with an error")

    def start(self, timeout: float | None = 60.0, stop: threading.Event | None = None) -> None:
        """Start, and wait up to ``timeout`` seconds for the broker (or until ``stop`` is set);
        ``None``: do not wait (the consumer keeps trying to connect with backoff, ``/readyz``
        says when it is in)."""
        self.thread.start()
        if timeout is None:
            return
        deadline = time.monotonic() + timeout
        while not self.consumer.ready and not (stop is not None and stop.is_set()):
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"consumer failed to start: {self.error}")
            if time.monotonic() > deadline:
                raise RuntimeError("consumer did not connect in time")
            time.sleep(0.05)

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(15)


@dataclass
class Stack:
    """Everything ``parking demo`` started, to be stopped in reverse order."""

    stops: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def add(self, name: str, stop: Callable[[], None]) -> None:
        self.stops.append((name, stop))

    def close(self) -> None:
        while self.stops:
            name, stop = self.stops.pop()
            try:
                stop()
            except Exception as exc:
                log.warning("stopping %s: %s", name, exc)


def _seed_logins(container: Container, data: Any) -> list[tuple[str, str, str]]:
    """Demo sign-ins from the web side, when it offers a seeding function."""
    try:
        module = importlib.import_module("gateway.auth.demo")
    except ModuleNotFoundError:
        return []
    seed = getattr(module, "seed_demo_users", None)
    if seed is None:
        return []
    with container.session_factory() as session:
        logins = seed(session, data)
        session.commit()
    return [(str(u), str(p), str(r)) for u, p, r in logins]


def summary(
    container: Container,
    traffic: Traffic,
    started: float,
    since: datetime,
    review_lookup: ReviewLookup | None = None,
) -> dict[str, Any]:
    """What the database recorded in this run (passages since ``since``), beside what the gates
    saw (and, through ``review_lookup``, the API's review queue); earlier runs in the same data
    directory are left out."""
    from billing.adapters import orm
    from einvoice.db import invoices

    in_this_run = orm.Passage.created_at >= since
    this_run = select(orm.Passage.event_id).where(in_this_run)
    with container.session_factory() as s:
        rows = s.execute(
            select(orm.Passage.event_id, orm.Passage.decision, orm.Passage.review_status).where(
                in_this_run
            )
        ).all()
        by_status: dict[Any, int] = dict(
            s.execute(
                select(invoices.c.status, func.count())
                .where(invoices.c.event_id.in_(this_run))
                .group_by(invoices.c.status)
            ).all()
        )
        # A debit is a fare posted to the ledger (a closed barrier shows a fare but posts none).
        debit_events = {
            e
            for (e,) in s.execute(
                select(orm.JournalEntry.event_id).where(
                    orm.JournalEntry.kind == "fare", orm.JournalEntry.event_id.in_(this_run)
                )
            ).all()
        }
    debits = [d for e, d, _ in rows if e in debit_events and d and (d.get("fare_vnd") or 0) > 0]
    decisions = [d for _, d, _ in rows]
    # Passages that went to the review queue (pending or resolved since). A doubtful read that
    # matching settled alone is not one of them.
    reviews = sum(1 for _, _, review_status in rows if review_status is not None)
    gates = traffic.summary(review_lookup)
    return {
        "since": since.isoformat(),
        "duration_s": round(time.monotonic() - started, 1),
        "passages": len(rows),
        "barrier_opens": sum(1 for d in decisions if d and d.get("open")),
        "barrier_closed": sum(1 for d in decisions if d and not d.get("open")),
        "debits": len(debits),
        "revenue_vnd": sum(int(d["fare_vnd"]) for d in debits),
        "invoices_issued": int(sum(by_status.values())),
        "invoices_accepted": int(by_status.get("accepted", 0)),
        "invoices_by_status": {str(k): int(v) for k, v in by_status.items()},
        "reviews": reviews,
        # issue 16: registered cars with enough balance that passed without a person, and
        # charges to another plate than the car's (the simulator knows each car's plate)
        "no_stop_share": gates.no_stop_share,
        "wrong_charges": gates.wrong_charges,
        "gates": gates.as_dict(),
    }


def _wait_invoices(container: Container, timeout: float, stop: threading.Event) -> None:
    """Until no invoice request waits and every invoice has the authority's answer."""
    from billing.adapters import outbox
    from einvoice.db import invoices

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        with container.session_factory() as s:
            waiting = outbox.pending(s, "invoice_request") + outbox.pending(s, "barrier_command")
            unanswered = s.scalar(
                select(func.count())
                .select_from(invoices)
                .where(invoices.c.status.not_in(["accepted", "rejected"]))
            )
        if waiting == 0 and not unanswered:
            return
        stop.wait(0.5)
    log.warning("demo: invoices still pending after %.0fs", timeout)


#: What one run of the demo's world leaves in its data directory. A run simulates the last
#: hours of traffic in compressed time; replayed over an earlier run's passages, those hours
#: would be history arriving out of order (late entries, cars already inside), so each run
#: starts a new world. The signing keys, local secrets and the vendor cache stay.
WORLD_FILES = ("parking.db", "parking.db-wal", "parking.db-shm", "parking.db-journal")
WORLD_DIRS = ("gates", "images", "mosquitto", "mqtt", "notices", "tax-authority")


def fresh_world(data_dir: Path) -> None:
    """Remove the previous run's world from ``data_dir`` (only the demo's own files)."""
    import shutil

    for name in WORLD_FILES:
        (data_dir / name).unlink(missing_ok=True)
    for name in WORLD_DIRS:
        shutil.rmtree(data_dir / name, ignore_errors=True)


def _port_or_free(port: int, what: str, echo: Callable[[str], None]) -> int:
    """The asked-for port, or a free one when something else already listens there (or 0)."""
    import socket

    if port == 0:
        return free_port()
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            other = free_port()
            echo(f"port {port} is busy: the {what} uses {other} instead")
            return other


def run_demo(
    opts: DemoOptions,
    echo: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> dict[str, Any] | None:
    """Run the demo until ``stop`` is set (the CLI's SIGINT/SIGTERM) or its duration ends; with
    a duration and no stop, the summary of the run. Stopped while starting, it stops what it had
    started, in reverse order, and returns None."""
    from edge.lane import Lane, LaneConfig
    from gateway.app import create_app
    from gateway.demo_world import ensure_population, seller_of
    from simulator.cameras import SyntheticCamera, TinyCamera
    from simulator.operator_api import OperatorApi
    from simulator.traffic import LotGates, Traffic, TrafficConfig, make_population

    stop = stop or threading.Event()
    started = time.monotonic()
    since = datetime.now(UTC)  # passages recorded from now on are this run's
    opts.http_port = _port_or_free(opts.http_port, "API", echo)
    opts.tax_port = _port_or_free(opts.tax_port, "mock tax authority", echo)
    opts.payment_port = _port_or_free(opts.payment_port, "simulated payment providers", echo)
    data_dir = opts.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    fresh_world(data_dir)
    stack = Stack()
    try:
        base = Settings(data_dir=data_dir, database_url=None)
        echo(f"database: {base.effective_database_url}")
        migrate.upgrade(base.effective_database_url)

        container = build(base)
        stack.add("database", container.close)
        population = ensure_population(container.uow_factory())
        data = population.seed
        seller = seller_of(container.uow_factory(), data.operator_id)

        gate_ids = [(lot, gate) for lot, pair in data.gates.items() for gate in pair]
        creds: dict[tuple[str, str], GateCredential] = {
            lg: new_gate_credential(*lg) for lg in gate_ids
        }
        gw_password = secrets.token_urlsafe(18)
        broker: MosquittoBroker | AmqttBroker = embedded_broker(
            data_dir / "mosquitto",
            # The broker binds a client id to its account: the demo gateway's account is its id.
            service_users={DEMO_CLIENT_ID: gw_password},
            gates=creds.values(),
            prefer=opts.broker,  # type: ignore[arg-type]
        )
        broker.start()
        stack.add("broker", broker.stop)
        if stop.is_set():
            return None
        echo(
            f"broker: {type(broker).__name__} on {broker.host}:{broker.port} "
            f"(MQTT {'5' if broker.protocol == 'v5' else '3.1.1'})"
        )

        tax = mock_tax_authority(seller, data_dir / "tax-authority", opts.tax_port)
        tax.start()
        stack.add("tax authority", tax.stop)
        # The demo's payment providers: a separate service, as a bank is (parking serve has
        # none unless PARKING_PAYMENT_PROVIDERS names real ones).
        payments, providers = simulated_payments(opts.http_port, opts.payment_port)
        payments.start()
        stack.add("payment providers", payments.stop)

        settings = base.model_copy(
            update={
                "mqtt_host": broker.host,
                "mqtt_port": broker.port,
                "mqtt_protocol": broker.protocol,
                "mqtt_username": DEMO_CLIENT_ID if broker.authenticated else None,
                "mqtt_password": gw_password if broker.authenticated else None,
                "mqtt_client_id": DEMO_CLIENT_ID,
                "mqtt_share_group": "gateway" if broker.protocol == "v5" else None,
                "tax_authority_url": f"http://127.0.0.1:{opts.tax_port}",
                "payment_providers": providers,
                "http_port": opts.http_port,
                "lpr_workers": opts.lpr_workers,
            }
        )
        container.settings = settings
        if opts.read_plates:
            echo("loading the plate readers ...")
        consumer = build_consumer(container, read_plates=opts.read_plates)
        consumer_thread = ConsumerThread(consumer)
        stack.add("consumer", consumer_thread.stop)
        consumer_thread.start(stop=stop)
        if stop.is_set():
            return None
        retention = start_retention(settings, container.uow_factory)
        if retention is not None:
            stack.add("frame retention", retention.stop)

        invoicing = build_invoice_services(container)
        invoice_stop = threading.Event()
        invoice_thread = threading.Thread(
            target=invoicing.run, args=(invoice_stop,), name="invoices", daemon=True
        )
        invoice_thread.start()

        def stop_invoices() -> None:
            invoice_stop.set()
            invoice_thread.join(20)

        stack.add("invoices", stop_invoices)

        api = UvicornThread(create_app(settings, container), "127.0.0.1", opts.http_port, "api")
        api.start()
        stack.add("api", api.stop)

        agents: dict[tuple[str, str], Lane] = {}
        for (lot, gate), cred in creds.items():
            direction = "entry" if gate == data.gates[lot][0] else "exit"
            camera = TinyCamera() if not opts.read_plates else SyntheticCamera(2, seed=opts.seed)
            agent = Lane(
                LaneConfig(
                    lot,
                    gate,
                    direction,  # type: ignore[arg-type]
                    data_dir / "gates" / f"{gate}.sqlite",
                    host=broker.host,
                    port=broker.port,
                    username=cred.username if broker.authenticated else None,
                    password=cred.password if broker.authenticated else None,
                    protocol=broker.protocol,
                ),
                camera,
            )
            agent.start()
            stack.add(f"gate {gate}", agent.stop)
            agents[(lot, gate)] = agent
        lots = [
            LotGates(
                lot,
                [agents[(lot, data.gates[lot][0])]],
                [agents[(lot, data.gates[lot][1])]],
                median_stay_min=150.0 if "noibai" in lot else 50.0,
            )
            for lot in data.lots
        ]
        traffic = Traffic(
            lots,
            make_population(
                population.registered,
                population.low_balance,
                population.unknown,
                set(population.motorbikes),
            ),
            TrafficConfig(
                arrivals_per_hour=opts.arrivals_per_hour,
                time_scale=opts.time_scale,
                camera_text=not opts.read_plates,
                seed=opts.seed,
            ),
        )
        logins = _seed_logins(container, data)
        echo("")
        echo(f"  operator dashboard & API  http://127.0.0.1:{opts.http_port}/")
        echo(f"  API docs                  http://127.0.0.1:{opts.http_port}/docs")
        echo(f"  metrics                   http://127.0.0.1:{opts.http_port}/metrics")
        echo(f"  mock tax authority        http://127.0.0.1:{opts.tax_port}/")
        echo(
            f"  payment providers (sim.)  http://127.0.0.1:{opts.payment_port}/ "
            f"({', '.join(p.name for p in providers)})"
        )
        for username, password, role in logins:
            echo(f"  login ({role}): {username} / {password}")
        echo(f"  gates: {', '.join(g for _, g in gate_ids)}; data in {data_dir}")
        echo("")

        if stop.is_set():
            return None
        if opts.duration_s is None:
            echo("running; Ctrl-C to stop")
        traffic.run(stop, duration_s=opts.duration_s)
        if stop.is_set():
            echo("\nstopping ...")
            return None
        # Let the system answer every gate and the authority answer every invoice (bounded).
        missing = traffic.wait_answered(opts.drain_s, stop)
        if missing:
            log.warning("demo: %d events without a barrier command after the drain", missing)
        _wait_invoices(container, opts.drain_s, stop)
        if stop.is_set():
            echo("\nstopping ...")
            return None
        operator = next(((u, p) for u, p, role in logins if role == "operator"), None)
        lookup = None
        if operator is not None:
            api_url = f"http://127.0.0.1:{opts.http_port}"
            lookup = OperatorApi(api_url, *operator).reviewed
        return summary(container, traffic, started, since, lookup)
    finally:
        stack.close()


def demo_summary_json(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2)


__all__ = ["DEMO_CLIENT_ID", "DemoOptions", "free_port", "run_demo"]
