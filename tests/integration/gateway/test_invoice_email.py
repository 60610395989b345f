"""A company buyer's invoices by email, on real parts: billing and einvoice on PostgreSQL, the
SMTP adapter into a local SMTP sink (aiosmtpd). The invoice goes once, to the invoice email the
account gave, with its signed XML (which verifies) and a PDF attached and the lookup link in
the text; a failed send is retried; other accounts' invoices are not emailed."""

from __future__ import annotations

import email
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.adapters import outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import PassageInput
from billing.domain.model import Owner, OwnerKind
from billing.services import set_invoicing
from billing.services.seed import CENTRAL_LOT, seed_demo
from gateway import migrate
from gateway.auth.users import create_user
from gateway.db import make_engine, make_session_factory
from gateway.notices.port import OutgoingMessage, SendError
from gateway.notices.smtp import SmtpSender
from gateway.notices.worker import NoticeWorker
from gateway.orm import Notice, NoticeDelivery
from tests.integration.gateway.test_notice_delivery import Sink, smtp_sink  # noqa: F401

pytestmark = pytest.mark.integration

INVOICE_EMAIL = "ketoan@saomai.vn"


@pytest.fixture()
def world(pg_url: str) -> Iterator[tuple[sessionmaker[Session], Any]]:
    migrate.upgrade(pg_url)
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    demo = seed_demo(UnitOfWork(factory))
    from billing.adapters import orm as b

    with factory() as s:
        op = s.get(b.Operator, demo.operator_id)
        assert op is not None
        op.cash_register_code = "PK001"
        create_user(s, "an", "a-long-password", "driver", account_id=demo.accounts["an"])
        s.commit()
    try:
        yield factory, demo
    finally:
        engine.dispose()


def _stay(factory: sessionmaker[Session], demo: Any, plate: str) -> None:
    from billing.services.settle import settle_passage

    end = datetime.now(UTC) - timedelta(minutes=1)
    entry_gate, exit_gate = demo.gates[CENTRAL_LOT]
    for gate, direction, at in (
        (entry_gate, "entry", end - timedelta(hours=1, minutes=30)),
        (exit_gate, "exit", end),
    ):
        settle_passage(
            UnitOfWork(factory),
            PassageInput(
                event_id=f"ev-{uuid.uuid4().hex}",
                lot_id=CENTRAL_LOT,
                gate_id=gate,
                direction=direction,
                captured_at=at,
                plate_text=plate,
                plate_confidence=0.97,
                needs_review=False,
            ),
        )


def _issue(factory: sessionmaker[Session], tmp_path: Path) -> None:
    from einvoice.keys import ensure_demo_keys
    from einvoice.maker import XmlInvoiceMaker
    from einvoice.signing import Signer
    from einvoice.worker import InvoiceWorker

    keys = ensure_demo_keys(tmp_path / "keys", "0109876543")
    maker = XmlInvoiceMaker(Signer.from_pkcs12(keys.seller_pkcs12, keys.password))
    results = InvoiceWorker(factory, maker, outbox=outbox).run_once()
    assert [r.outcome for r in results] == ["issued", "issued"]


class FailingOnce:
    def __init__(self, then: SmtpSender) -> None:
        self.then, self.failed = then, False

    def send(self, message: OutgoingMessage) -> None:
        if not self.failed:
            self.failed = True
            raise SendError("mail server busy")
        self.then.send(message)


def test_a_company_invoice_is_emailed_once_with_its_xml_and_pdf(
    world: tuple[sessionmaker[Session], Any],
    smtp_sink: tuple[Sink, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    from einvoice.verify import verify_invoice

    factory, demo = world
    sink, port = smtp_sink
    company = Owner(
        OwnerKind.BUSINESS,
        "Công ty TNHH Vận tải Sao Mai",
        "0312345678-001",
        "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
    )
    set_invoicing(
        UnitOfWork(factory),
        demo.accounts["an"],
        company,
        invoice_email=INVOICE_EMAIL,
        monthly=False,
    )
    _stay(factory, demo, "30A-123.45")  # An's car: the company's invoice
    _stay(factory, demo, "29C-456.78")  # another company, no invoice email: not sent
    _issue(factory, tmp_path)

    # The worker's clock a minute ahead: the deliveries it writes are stamped with the real
    # time, and a slow machine must not make them look not yet due.
    clock = [datetime.now(UTC) + timedelta(minutes=1)]
    worker = NoticeWorker(
        factory,
        {"email": FailingOnce(SmtpSender("127.0.0.1", port))},
        public_url="https://parking.example.vn",
        authority_url="http://127.0.0.1:8100",
        retry_initial=timedelta(seconds=5),
        clock=lambda: clock[0],
    )
    worker.run_once()  # written, first send fails
    assert sink.messages == []
    with factory() as s:
        [delivery] = s.scalars(select(NoticeDelivery)).all()
        assert (delivery.status, delivery.last_error) == ("pending", "mail server busy")
    clock[0] += timedelta(seconds=6)
    worker.run_once()  # retried: goes
    clock[0] += timedelta(minutes=5)
    worker.run_once()  # nothing more: delivered once
    assert len(sink.messages) == 1
    mail: Message = sink.messages[0]
    assert mail["To"] == INVOICE_EMAIL
    subject = str(email.header.make_header(email.header.decode_header(mail["Subject"])))
    assert subject.startswith("Hóa đơn điện tử 1C")
    parts = {str(p.get_filename()): p for p in mail.walk() if p.get_filename()}
    [xml_name] = [n for n in parts if n.endswith(".xml")]
    [pdf_name] = [n for n in parts if n.endswith(".pdf")]
    xml = parts[xml_name].get_payload(decode=True)
    assert isinstance(xml, bytes) and verify_invoice(xml).valid
    pdf = parts[pdf_name].get_payload(decode=True)
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF")
    body = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    raw = body.get_payload(decode=True)
    assert isinstance(raw, bytes)
    text = raw.decode(body.get_content_charset() or "utf-8")
    assert "MST 0312345678-001" in text and "https://parking.example.vn/tra-cuu" in text
    with factory() as s:
        notice = s.scalars(select(Notice).where(Notice.kind == "invoice_issued")).one()
        assert notice.account_id == str(demo.accounts["an"])  # in An's portal inbox too
