"""Notices on real parts: email through the SMTP adapter into a local SMTP sink (aiosmtpd), and
several workers sharing one PostgreSQL outbox without sending anything twice."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway import migrate
from gateway.db import make_engine, make_session_factory
from gateway.notices.port import OutgoingMessage, SendError
from gateway.notices.queue import enqueue
from gateway.notices.smtp import SmtpSender
from gateway.notices.worker import NoticeWorker
from gateway.orm import NoticeDelivery

pytestmark = pytest.mark.integration


class Sink:
    """aiosmtpd's handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def test_smtp_adapter_delivers_a_vietnamese_notice(smtp_sink: tuple[Sink, int]) -> None:
    sink, port = smtp_sink
    sender = SmtpSender("127.0.0.1", port, sender="Bãi đỗ xe <no-reply@parking.test>")
    message = OutgoingMessage(
        channel="email",
        recipient="an@example.vn",
        subject="Số dư thấp",
        body="Số dư tài khoản giao thông của bạn còn 45.000 ₫, dưới mức 50.000 ₫.",
        message_id="low_balance:ev-1/email/an@example.vn",
    )
    sender.send(message)
    sender.send(message)  # a retry after a lost answer
    assert len(sink.messages) == 2
    first, again = sink.messages
    assert first["To"] == "an@example.vn"
    assert str(email.header.make_header(email.header.decode_header(first["Subject"]))) == (
        "Số dư thấp"
    )
    body = first.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert "45.000 ₫" in body.decode(first.get_content_charset() or "utf-8")
    # The same delivery carries the same Message-ID, so mail systems can drop the repeat.
    assert first["Message-ID"] == again["Message-ID"]


def test_smtp_adapter_reports_an_unreachable_server() -> None:
    sender = SmtpSender("127.0.0.1", _free_port(), timeout_s=2)
    with pytest.raises(SendError):
        sender.send(OutgoingMessage("email", "a@b.vn", "s", "b", "k"))


class SlowRecorder:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> None:
        time.sleep(0.01)
        with self.lock:
            self.sent.append(message.message_id)


def test_workers_share_the_postgresql_outbox_without_double_sends(
    pg_url: str, smtp_sink: tuple[Sink, int]
) -> None:
    sink, port = smtp_sink
    migrate.upgrade(pg_url, "gateway@head")
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    try:
        with factory() as s:
            for i in range(30):
                enqueue(
                    s,
                    key=f"trip_receipt:ev-{i}",
                    kind="trip_receipt",
                    code="notice_trip_receipt",
                    params={
                        "fare": "50.000 ₫",
                        "plate": "30A-123.45",
                        "lot": "Hoàn Kiếm",
                        "exit_at": "06/12/2026 10:00",
                        "balance": "450.000 ₫",
                    },
                    lang="vi",
                    to=[("sms", "+84912000111"), ("email", f"driver{i}@example.vn")],
                    account_id=1,
                )
            s.commit()
        sms = SlowRecorder()
        mail = SmtpSender("127.0.0.1", port)
        workers = [NoticeWorker(factory, {"sms": sms, "email": mail}, batch=7) for _ in range(3)]
        stop = threading.Event()

        def drain(worker: NoticeWorker) -> None:
            deadline = time.monotonic() + 30
            while not stop.is_set() and time.monotonic() < deadline:
                if not worker.deliver_due():
                    with factory() as s:
                        left = s.scalar(
                            select(func.count())
                            .select_from(NoticeDelivery)
                            .where(NoticeDelivery.status == "pending")
                        )
                    if not left:
                        return
                    time.sleep(0.01)

        threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=40)
        stop.set()
        assert sorted(sms.sent) == sorted(
            f"trip_receipt:ev-{i}/sms/+84912000111" for i in range(30)
        )
        assert sorted(m["To"] for m in sink.messages) == sorted(
            f"driver{i}@example.vn" for i in range(30)
        )
        with factory() as s:
            statuses = s.execute(
                select(NoticeDelivery.status, func.count()).group_by(NoticeDelivery.status)
            ).all()
        assert dict(statuses) == {"sent": 60}
    finally:
        engine.dispose()
