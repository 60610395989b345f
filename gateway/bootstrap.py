"""Composition root: the one place that turns Settings into engines, pools, signers and clients.

Everything else takes its collaborators as arguments, so tests build the same objects with other
settings (a PostgreSQL URL, a test broker) and the packages never read the environment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from billing.domain.decisions import GateDecision
from gateway.consumer import Consumer, Passage
from gateway.db import make_engine, make_session_factory
from gateway.images import store_frames, store_read_box
from gateway.invoicing import build_invoicing
from gateway.metrics import DatabaseCollector, Metrics
from gateway.mqtt.client import MqttConfig
from gateway.outbox_publisher import OutboxPublisher
from gateway.protocol import GateEvent
from gateway.settings import Settings

if TYPE_CHECKING:
    from billing.services import AutoTopUpWorker
    from einvoice.service import InvoicingService
    from gateway.alerts.monitor import AlertMonitor
    from gateway.notices.worker import NoticeWorker

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    metrics: Metrics
    # GET requests' reads (settings.database_read_url); None: they read the primary
    read_session_factory: sessionmaker[Session] | None = None
    consumer: Consumer | None = None
    reader_pool: Any = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def uow_factory(self) -> Any:
        from billing.adapters.uow import UnitOfWork

        return UnitOfWork(self.session_factory)

    def settle(self, passage: Passage) -> GateDecision:
        from billing.domain.offline import OfflineGrant
        from billing.services import PassageInput, settle_passage

        # not asdict(): it deep-copies the reader's evidence, which is passed on as it is
        fields_ = {f.name: getattr(passage, f.name) for f in dataclass_fields(passage)}
        o = passage.offline
        fields_["offline"] = (
            None
            if o is None
            else OfflineGrant(
                opened=o.open,
                reason=o.reason,
                decided_at=o.decided_at,
                credit_vnd=o.credit_vnd or 0,
                fare_vnd=o.fare_vnd or 0,
                plate_key=o.plate_key,
                allowlist_version=o.allowlist_version,
            )
        )
        return settle_passage(self.uow_factory(), PassageInput(**fields_))

    def record_gate_status(self, lot_id: str, gate_id: str, online: bool, at: Any) -> None:
        from billing.services import record_gate_status

        record_gate_status(self.uow_factory(), gate_id, "online" if online else "offline", at)

    def close(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception as exc:  # closing must go on for the rest
                log.warning("closing: %s", exc)
        self._closers.clear()
        self.engine.dispose()


def build(settings: Settings) -> Container:
    """Engine, sessions and metrics; the heavier parts are added by the builders below."""
    from gateway.ops import invoice_counts

    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    metrics = Metrics()
    metrics.gate_health.alert_after_s = settings.gate_unanswered_alert_s
    metrics.add_collector(DatabaseCollector(sessions, invoice_counts))
    container = Container(settings, engine, sessions, metrics)
    if settings.database_read_url:
        read_engine = make_engine(settings.database_read_url)
        container.read_session_factory = make_session_factory(read_engine)
        container._closers.append(read_engine.dispose)
    return container


def mqtt_config(settings: Settings, client_id: str | None = None) -> MqttConfig:
    protocol = cast(Literal["v5", "v311"], "v311" if settings.mqtt_protocol == "v311" else "v5")
    return MqttConfig(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=client_id or settings.mqtt_client_id,
        username=settings.mqtt_username,
        password=settings.mqtt_password,
        protocol=protocol,
        session_expiry_s=settings.mqtt_session_expiry_s,
        tls=settings.mqtt_tls,
        tls_ca_file=_path(settings.mqtt_tls_ca_file),
        tls_certfile=_path(settings.mqtt_tls_certfile),
        tls_keyfile=_path(settings.mqtt_tls_keyfile),
    )


def subscriptions_file(settings: Settings, client_id: str) -> Path:
    """Where the consumer with this client id remembers what it subscribed."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in client_id)
    return settings.data_dir / "mqtt" / f"{safe}.subscriptions.json"


def _path(value: Path | None) -> str | None:
    return None if value is None else str(value)


def image_store(data_dir: Path) -> Callable[[GateEvent], str | None]:
    """Keeps the frames of each passage for operators reviewing it; returns the first's path."""

    def store(event: GateEvent) -> str | None:
        return store_frames(data_dir, event)

    return store


def build_consumer(
    container: Container,
    *,
    read_plates: bool = True,
    client_id: str | None = None,
    lot_filter: str | None = None,
) -> Consumer:
    """The MQTT consumer with billing's settle, the LPR process pool and the outbox publisher."""
    from billing.adapters import outbox
    from billing.domain.model import DomainError

    s = container.settings
    read_plate = None
    if read_plates:
        from lpr.pool import ReaderPool

        pool = ReaderPool(
            s.lpr_workers,
            recognizer=s.lpr_recognizer,
            on_restart=container.metrics.lpr_pool_restarts.inc,
        )
        container.reader_pool = pool
        container._closers.append(pool.close)
        read_plate = cast(Any, pool.read)

    def publisher(client: Any) -> OutboxPublisher:
        return OutboxPublisher(
            container.session_factory,
            client,
            claim=outbox.claim_rows,
            mark_processed=outbox.mark_processed,
            mark_processed_many=outbox.mark_processed_many,
            metrics=container.metrics,
            command_expiry_s=s.mqtt_command_expiry_s,
        )

    consumer = Consumer(
        mqtt_config(s, client_id),
        allowlist_factory=allowlist_publisher(container) if s.allowlist_refresh_s > 0 else None,
        allowlist_check_s=min(5.0, s.allowlist_refresh_s or 5.0),
        settle=container.settle,
        read_plate=read_plate,
        publisher_factory=publisher,
        metrics=container.metrics,
        share_group=s.mqtt_share_group,
        lot_filter=lot_filter or s.mqtt_lot_filter,
        image_store=image_store(s.data_dir) if s.keep_images else None,
        box_store=partial(store_read_box, s.data_dir) if s.keep_images else None,
        permanent_errors=(DomainError,),
        record_status=container.record_gate_status,
        command_expiry_s=s.mqtt_command_expiry_s,
        subscriptions_file=subscriptions_file(s, client_id or s.mqtt_client_id),
    )
    container.consumer = consumer
    return consumer


def allowlist_publisher(container: Container) -> Callable[[Any], Any]:
    """The factory of the lots' signed allow-list publisher (gateway.allowlist), for the
    consumer's MQTT client."""
    from billing.services.offline import allowlist_content
    from gateway.allowlist import AllowlistPublisher, signing_key

    s = container.settings
    key = signing_key(s)

    def lots() -> list[str]:
        from sqlalchemy import select

        from billing.adapters import orm

        with container.session_factory() as session:
            ids = list(session.scalars(select(orm.Lot.id).order_by(orm.Lot.id)))
        wanted = s.mqtt_lot_filter
        return [lot for lot in ids if wanted in ("+", lot)]

    def make(client: Any) -> AllowlistPublisher:
        return AllowlistPublisher(
            client,
            key,
            lots=lots,
            content=lambda lot, at: allowlist_content(container.uow_factory(), lot, at),
            refresh_s=s.allowlist_refresh_s,
        )

    return make


@dataclass
class InvoiceLoop:
    """Invoicing (einvoice's InvoicingService: invoice requests, refunds and corrections, then
    the tax authority) in one loop with billing's auto top-ups and the driver notices, so
    ``parking worker`` and the demo run them all."""

    invoicing: InvoicingService
    auto_topups: AutoTopUpWorker | None = None
    notices: NoticeWorker | None = None
    alerts: AlertMonitor | None = None  # operators' alerts (gateway.alerts), every few seconds
    alert_every_s: float = 10.0
    interval_s: float = 0.5
    _alerted_at: float = -1e9
    issued: int = 0
    failures: int = 0

    def run_once(self) -> None:
        # Each on its own: a provider or mail server failure must not hold up invoices, nor
        # the reverse.
        for name, part in (("auto top-up", self.auto_topups), ("notice", self.notices)):
            if part is None:
                continue
            try:
                part.run_once()
            except Exception:
                self.failures += 1
                log.exception("%s worker failed; retrying", name)
        if self.alerts is not None and time.monotonic() - self._alerted_at >= self.alert_every_s:
            self._alerted_at = time.monotonic()
            try:
                self.alerts.run_once()
            except Exception:
                self.failures += 1
                log.exception("alert monitor failed; retrying")
        report = self.invoicing.run_once()
        self.issued += sum(r.outcome == "issued" for r in (*report.issued, *report.corrections))

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                self.failures += 1
                log.exception("invoice loop failed; retrying")
            stop.wait(self.interval_s)

    def close(self) -> None:
        self.invoicing.close()


def build_invoice_services(container: Container) -> InvoiceLoop:
    """The invoice loop of ``parking worker`` and the demo (see :mod:`gateway.invoicing`)."""
    loop = InvoiceLoop(
        build_invoicing(container.settings, container.session_factory),
        auto_topups=build_auto_topups(container),
        notices=build_notice_worker(container),
        alerts=build_alert_monitor(container),
    )
    container._closers.append(loop.close)
    return loop


def build_alert_monitor(container: Container) -> AlertMonitor:
    """Operators' alerts (gate offline, review backlog, blacklisted plate, tax rejections),
    emailed and sent to the webhook the settings name (``PARKING_ALERT_*``)."""
    from gateway.alerts.monitor import from_settings

    return from_settings(container.settings, container.session_factory)


def build_notice_worker(container: Container) -> NoticeWorker:
    """Driver notices (low balance, receipts, codes) through the senders the settings name."""
    from datetime import timedelta

    from gateway.invoice_links import public_base
    from gateway.notices import senders
    from gateway.notices.worker import NoticeWorker
    from gateway.payments.providers import labels

    s = container.settings
    return NoticeWorker(
        container.session_factory,
        senders.from_settings(s),
        receipt_window=timedelta(hours=s.notice_receipt_window_h),
        provider_names=labels(s.payment_providers),
        public_url=public_base(s),
        authority_url=s.tax_authority_url,
    )


def build_auto_topups(container: Container) -> AutoTopUpWorker | None:
    """Billing's auto top-up worker with the configured providers that pull from a linked
    account; None when there is none (requests then wait, and are dropped once not needed)."""
    from billing.services import AutoTopUpWorker
    from gateway.payments.pull import pull_providers

    settings = container.settings
    providers = pull_providers(settings.payment_providers)
    if not providers:
        log.info("auto top-up off: no payment provider that pulls is configured")
        return None
    default = settings.payment_autotopup_provider or next(iter(providers))
    return AutoTopUpWorker(container.uow_factory(), providers, default=default)
