"""The whole passage path for end-to-end tests: real PostgreSQL, the machine's Mosquitto, the mock
tax authority over HTTP, the gateway consumer (with or without plate readers) and the invoice
worker + submitter, each test module on its own lot so parallel runs never share topics."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from billing.adapters import orm
from billing.services import add_gate, create_lot, seed_demo
from edge.camera import Camera
from edge.lane import Lane, LaneConfig
from gateway import migrate
from gateway.bootstrap import Container, build, build_consumer, build_invoice_services
from gateway.broker import free_port
from gateway.demo import ConsumerThread, mock_tax_authority
from gateway.demo_world import seller_of
from gateway.settings import Settings
from simulator.cameras import TinyCamera

PLATE = "30A-123.45"  # seeded: account "an", a car, 500,000 VND


@dataclass
class PassageStack:
    container: Container
    lot: str
    entry_gate: str
    exit_gate: str
    tax_url: str
    mqtt: tuple[str, int]
    tmp: Path
    consumer: ConsumerThread
    read_plates: bool
    agents: dict[str, Lane] = field(default_factory=dict)

    def agent(self, gate: str, camera: Camera | None = None, **kw: Any) -> Lane:
        """The gate's lane (one per gate, as on a real lane: the MQTT client id is the gate's);
        without a camera, a tiny one (for events that carry the camera's plate text)."""
        if gate in self.agents:
            return self.agents[gate]
        direction = "entry" if gate == self.entry_gate else "exit"
        a = Lane(
            LaneConfig(
                self.lot,
                gate,
                direction,  # type: ignore[arg-type]
                self.tmp / f"{gate}-{uuid.uuid4().hex[:6]}.sqlite",
                host=self.mqtt[0],
                port=self.mqtt[1],
                **kw,
            ),
            camera or TinyCamera(),
        )
        a.start()
        assert a.connected
        self.agents[gate] = a
        return a

    def restart_consumer(self, before_start: Callable[[], None] | None = None) -> None:
        """Stop the consumer (unacked events stay with the broker), then start a new one."""
        self.consumer.stop()
        if before_start is not None:
            before_start()
        self.consumer = ConsumerThread(
            build_consumer(
                self.container,
                read_plates=self.read_plates,
                client_id=self.container.settings.mqtt_client_id,
                lot_filter=self.lot,
            )
        )
        self.consumer.start()

    # --- what the database says -----------------------------------------------------------

    def balance(self, plate: str = PLATE) -> int:
        with self.container.session_factory() as s:
            acct = s.scalar(
                select(orm.TransportAccount)
                .join(orm.Vehicle, orm.Vehicle.account_id == orm.TransportAccount.id)
                .where(orm.Vehicle.plate_text == plate)
            )
            assert acct is not None
            return int(acct.balance_vnd)

    def count(self, model: Any, **where: Any) -> int:
        with self.container.session_factory() as s:
            stmt = select(func.count()).select_from(model)
            for name, value in where.items():
                stmt = stmt.where(getattr(model, name) == value)
            return int(s.scalar(stmt) or 0)

    def gate_status(self, gate_id: str) -> str:
        """What billing believes of the gate ("online"/"offline"), from its gate table."""
        with self.container.session_factory() as s:
            return str(s.get(orm.Gate, gate_id).status)  # type: ignore[union-attr]

    def invoices_for(self, event_id: str) -> list[Any]:
        from einvoice.db import invoices

        with self.container.session_factory() as s:
            return list(s.execute(select(invoices).where(invoices.c.event_id == event_id)).all())


def wait_until(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout}s")


def _prepare_lot(container: Container, lot: str) -> tuple[str, str, Any]:
    data = seed_demo(container.uow_factory())
    create_lot(container.uow_factory(), lot, f"E2E {lot}", data.operator_id, "hn-central")
    entry = add_gate(container.uow_factory(), f"{lot}-in", lot, "entry")
    exit_ = add_gate(container.uow_factory(), f"{lot}-out", lot, "exit")
    seller = seller_of(container.uow_factory(), data.operator_id)
    return entry, exit_, seller


@contextmanager
def passage_stack(
    pg_url: str, mqtt: tuple[str, int], tmp: Path, *, read_plates: bool, **settings: Any
) -> Iterator[PassageStack]:
    """The stack on a lot of its own; ``settings`` override the gateway's (e.g. a command
    expiry)."""
    lot = f"e2e{uuid.uuid4().hex[:10]}"
    migrate.upgrade(pg_url)
    tax_port = free_port()
    config = Settings(
        data_dir=tmp,
        database_url=pg_url,
        mqtt_host=mqtt[0],
        mqtt_port=mqtt[1],
        mqtt_client_id=f"gw-{lot}",
        mqtt_share_group=f"g-{lot}",  # only this module's consumers share this group
        tax_authority_url=f"http://127.0.0.1:{tax_port}",
        lpr_workers=1,
        **settings,
    )
    container = build(config)
    stops: list[Callable[[], None]] = [container.close]
    try:
        entry, exit_, seller = _prepare_lot(container, lot)
        tax = mock_tax_authority(seller, tmp / "tax-authority", tax_port)
        tax.start()
        stops.append(tax.stop)
        consumer = ConsumerThread(
            build_consumer(container, read_plates=read_plates, lot_filter=lot)
        )
        consumer.start()
        invoicing = build_invoice_services(container)
        invoicing.interval_s = 0.2
        stop_invoices = threading.Event()
        worker = threading.Thread(target=invoicing.run, args=(stop_invoices,), daemon=True)
        worker.start()

        def _stop_invoices() -> None:
            stop_invoices.set()
            worker.join(20)

        stops.append(_stop_invoices)
        stack = PassageStack(
            container,
            lot,
            entry,
            exit_,
            config.tax_authority_url,
            mqtt,
            tmp,
            consumer,
            read_plates,
        )

        def _stop_consumer() -> None:  # the one running then (restart_consumer replaces it)
            stack.consumer.stop()

        stops.append(_stop_consumer)
        try:
            yield stack
        finally:
            for a in stack.agents.values():
                a.stop()
    finally:
        for stop in reversed(stops):
            stop()
