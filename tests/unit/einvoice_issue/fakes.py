"""In-memory stand-ins for the worker's collaborators (unit tests only).

The fake outbox is a real table in the test's SQLite database, shaped like billing's ``outbox``
(contracts.md), so claiming and marking take part in the worker's transaction as the real one does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack

from lxml import etree
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.orm import Session

from billing.domain.events import InvoiceRequested
from einvoice.worker import InvoiceIdentity, SignedInvoice

outbox_metadata = MetaData()
outbox = Table(
    "outbox",
    outbox_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("key", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("kind", "key"),
)


class FakeOutbox:
    def __init__(self) -> None:
        self.claims = 0

    def add(self, session: Session, kind: str, key: str, payload: Mapping[str, Any]) -> int:
        return int(
            session.execute(
                outbox.insert()
                .values(
                    kind=kind,
                    key=key,
                    payload=dict(payload),
                    created_at=datetime.now(UTC),
                    attempts=0,
                )
                .returning(outbox.c.id)
            ).scalar_one()
        )

    def claim(self, session: Session, kind: str, limit: int) -> list[Any]:
        self.claims += 1
        stmt = (
            select(outbox.c.id, outbox.c.payload)
            .where(outbox.c.kind == kind, outbox.c.processed_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(session.execute(stmt))

    def mark_processed(self, session: Session, row_id: int) -> None:
        session.execute(
            update(outbox).where(outbox.c.id == row_id).values(processed_at=datetime.now(UTC))
        )

    def mark_failed(self, session: Session, row_id: int, error: str) -> None:
        session.execute(
            update(outbox)
            .where(outbox.c.id == row_id)
            .values(attempts=outbox.c.attempts + 1, last_error=error)
        )


class FakeMaker:
    """Makes a small XML that carries the identity, so tests can read back what was numbered."""

    def __init__(self, fail_on: set[str] | None = None) -> None:
        self.fail_on = fail_on or set()
        self.calls = 0

    def __call__(
        self, request: InvoiceRequested, identity: InvoiceIdentity, *, downward: bool = False
    ) -> SignedInvoice:
        self.calls += 1
        if request.event_id in self.fail_on:
            raise RuntimeError(f"signing failed for {request.event_id}")
        root = etree.Element("HDon")
        for name, value in (
            ("KHMSHDon", identity.template),
            ("KHHDon", identity.series),
            ("SHDon", str(identity.number)),
            ("NLap", identity.issue_date.isoformat()),
            ("MCCQT", identity.mccqt or ""),
        ):
            etree.SubElement(root, name).text = value
        fare = -request.fare_vnd if downward else request.fare_vnd
        vat = round(fare / 11)
        return SignedInvoice(etree.tostring(root), fare - vat, vat, fare, "10%")


class SellerFields(TypedDict, total=False):
    """The seller fields a test may override in ``request_payload``."""

    name: str
    tax_code: str
    address: str
    invoice_template: str
    invoice_series: str
    invoice_mode: str
    cash_register_code: str


def request_payload(
    event_id: str, fare: int = 25000, **seller: Unpack[SellerFields]
) -> dict[str, Any]:
    base_seller: dict[str, object] = {
        "name": "Công ty TNHH Bãi Xe Phố Cổ",
        "tax_code": "0101234567",
        "address": "1 Hàng Bài, Hoàn Kiếm, Hà Nội",
        "invoice_template": "1",
        "invoice_series": "C26MPK",
        "invoice_mode": "cash_register",
        "cash_register_code": "41849",
    }
    base_seller.update(seller)
    return {
        "event_id": event_id,
        "journal_entry_id": 1,
        "session_id": 1,
        "lot_id": "lot-1",
        "lot_name": "Bãi xe Hàng Bài",
        "gate_id": "exit-1",
        "plate": "30A-123.45",
        "vehicle_class": "car",
        "entry_at": "2026-03-02T08:00:00+07:00",
        "exit_at": "2026-03-02T10:00:00+07:00",
        "fare_vnd": fare,
        "seller": base_seller,
        "buyer": {
            "account_id": 1,
            "kind": "person",
            "name": "Nguyễn Văn An",
            "tax_code": None,
            "address": None,
        },
    }


def invoice_request(
    event_id: str, fare: int = 25000, **seller: Unpack[SellerFields]
) -> InvoiceRequested:
    """billing's event for :func:`request_payload` (for billing's real outbox)."""
    return InvoiceRequested.from_payload(request_payload(event_id, fare, **seller))
