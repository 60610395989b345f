"""Operator alerts on real parts: PostgreSQL, email through the SMTP adapter into aiosmtpd, and
a signed webhook to a local HTTP server that fails once. One alert per condition until it
clears; nothing lost while a receiver is down."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update

from billing.adapters import orm as b
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import PassageInput
from billing.services.lot_lists import add_entry
from billing.services.seed import CENTRAL_LOT, seed_demo
from billing.services.settle import settle_passage
from gateway import migrate
from gateway.alerts.conditions import Thresholds
from gateway.alerts.monitor import AlertMonitor
from gateway.alerts.webhook import WebhookSender, signature
from gateway.db import make_engine, make_session_factory
from gateway.notices.smtp import SmtpSender
from gateway.orm import Alert, AlertDelivery
from tests.integration.gateway.test_notice_delivery import Sink

pytestmark = pytest.mark.integration
SECRET = "alert-webhook-secret"


class Hook:
    """A webhook receiver on 127.0.0.1 that answers 500 to the first ``fail`` calls."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.calls: list[tuple[dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.calls.append((dict(self.headers), body))
                failing = len(hook.calls) <= hook.fail
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.calls]


@pytest.fixture()
def mail() -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    from tests.integration.gateway.test_notice_delivery import _free_port

    sink, port = Sink(), _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture()
def hook() -> Iterator[Hook]:
    h = Hook(fail=1)
    h.thread.start()
    try:
        yield h
    finally:
        h.server.shutdown()
        h.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _subject(message: Any) -> str:
    return str(make_header(decode_header(message["Subject"])))


class Lot:
    """The demo lot on PostgreSQL, its exit gate, a clock, and the monitor under test."""

    def __init__(self, pg_url: str, mail_port: int, hook: Hook) -> None:
        migrate.upgrade(pg_url)
        self.engine = make_engine(pg_url)
        self.factory = make_session_factory(self.engine)
        self.uow = UnitOfWork(self.factory)
        demo = seed_demo(self.uow)
        self.entry_gate, self.exit_gate = demo.gates[CENTRAL_LOT]
        self.clock = Clock()
        self.monitor = AlertMonitor(
            self.factory,
            Thresholds(review_backlog=2, gate_offline=timedelta(seconds=60)),
            emails=["ops@parking.test"],
            email_sender=SmtpSender("127.0.0.1", mail_port),
            webhook=WebhookSender(hook.url, SECRET),
            retry_initial=timedelta(seconds=30),
            clock=self.clock,
        )

    def passage(self, direction: str, plate: str | None, conf: float = 0.97) -> Any:
        gate = self.entry_gate if direction == "entry" else self.exit_gate
        return settle_passage(
            self.uow,
            PassageInput(
                f"ev-{uuid.uuid4().hex}",
                CENTRAL_LOT,
                gate,
                direction,
                self.clock.now,
                plate,
                conf,
                conf < 0.8,
            ),
        )

    def gate(self, status: str, minutes_ago: float = 0) -> None:
        at = self.clock.now - timedelta(minutes=minutes_ago)
        with self.factory() as s:
            s.execute(
                update(b.Gate)
                .where(b.Gate.id == self.exit_gate)
                .values(status=status, status_at=at)
            )
            s.commit()

    def alerts(self, kind: str | None = None) -> list[Alert]:
        with self.factory() as s:
            stmt = select(Alert).order_by(Alert.id)
            if kind:
                stmt = stmt.where(Alert.kind == kind)
            return list(s.scalars(stmt))

    def trouble(self) -> None:
        """A gate offline for 5 minutes, three unreadable plates waiting, a blacklisted car."""
        self.gate("offline", minutes_ago=5)
        for _ in range(3):
            self.passage("exit", None, 0.2)
        add_entry(self.uow, CENTRAL_LOT, "30A-123.45", "blacklist", "op.lan")
        assert not self.passage("entry", "30A-123.45").open


@pytest.fixture()
def lot(pg_url: str, mail: tuple[Sink, int], hook: Hook) -> Iterator[Lot]:
    made = Lot(pg_url, mail[1], hook)
    try:
        yield made
    finally:
        made.engine.dispose()


def test_one_alert_per_condition_emailed_and_webhooked_signed_with_retries(
    lot: Lot, mail: tuple[Sink, int], hook: Hook
) -> None:
    sink = mail[0]
    assert lot.monitor.run_once().opened == ()  # all well: nothing
    lot.trouble()
    assert len(lot.monitor.run_once().opened) == 3
    assert {a.kind for a in lot.alerts()} == {"gate_offline", "review_backlog", "listed_plate"}
    subjects = sorted(_subject(m) for m in sink.messages)
    assert len(subjects) == 3 and all(s.startswith("Cảnh báo bãi đỗ xe: ") for s in subjects)
    assert any(f"Cổng {lot.exit_gate}" in s for s in subjects)
    assert any("30A-123.45 trong danh sách đen" in s for s in subjects)
    assert any("có 3 lượt (ngưỡng 2)" in s for s in subjects)
    assert len(hook.calls) == 3  # the first answered 500
    # Checked again: the same conditions, no new alert and no new mail; the failed webhook
    # call is retried once its backoff has passed, with the same delivery id.
    lot.passage("entry", "30A-123.45")  # the car tries again: still one alert
    assert lot.monitor.run_once().opened == () and len(sink.messages) == 3
    assert len(hook.calls) == 3
    lot.clock.now += timedelta(seconds=31)
    lot.monitor.run_once()
    assert len(hook.calls) == 4
    assert hook.calls[0][0]["X-Parking-Delivery"] == hook.calls[3][0]["X-Parking-Delivery"]
    for headers, body in hook.calls:
        stamp = headers["X-Parking-Timestamp"]
        assert headers["X-Parking-Signature"] == signature(SECRET, stamp, body)
    payloads = hook.bodies()
    assert {p["kind"] for p in payloads} == {"gate_offline", "review_backlog", "listed_plate"}
    assert all(p["event"] == "opened" and p["text_en"] and p["text_vi"] for p in payloads)
    with lot.factory() as s:
        assert {d.status for d in s.scalars(select(AlertDelivery))} == {"sent"}


def test_an_alert_clears_once_and_a_new_outage_is_a_new_alert(
    lot: Lot, mail: tuple[Sink, int], hook: Hook
) -> None:
    sink = mail[0]
    lot.gate("offline", minutes_ago=0.5)
    assert lot.monitor.run_once().opened == ()  # not offline long enough yet
    lot.clock.now += timedelta(minutes=1)
    assert len(lot.monitor.run_once().opened) == 1
    lot.gate("online")
    change = lot.monitor.run_once()
    assert len(change.cleared) == 1 and change.opened == ()
    assert [_subject(m).split(":")[0] for m in sink.messages] == [
        "Cảnh báo bãi đỗ xe",
        "Cảnh báo đã hết",
    ]
    lot.clock.now += timedelta(seconds=31)  # the webhook's first call failed: retried
    lot.monitor.run_once()
    events = [p["event"] for p in hook.bodies()]
    assert sorted(events) == ["cleared", "opened", "opened"]  # the opening's retry came last
    assert lot.monitor.run_once().cleared == ()  # told once
    lot.gate("offline", minutes_ago=2)
    assert len(lot.monitor.run_once().opened) == 1
    gate_alerts = lot.alerts("gate_offline")
    assert len(gate_alerts) == 2 and sum(a.cleared_at is None for a in gate_alerts) == 1
