"""The mock authority's own database: a separate system, so its own metadata and create_all.

It is not part of the project's Alembic branches on purpose: the real authority's database is
not ours to migrate. SQLite by default; any SQLAlchemy URL works.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData()


class SellerRow(Base):
    __tablename__ = "ta_seller"

    tax_code: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(400))
    cash_register_code: Mapped[str] = mapped_column(String(5), unique=True)
    series_patterns: Mapped[list[str]] = mapped_column(JSON)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Sequence of the authority-assigned codes for this seller.
    next_code_seq: Mapped[int] = mapped_column(BigInteger, default=1)


class MessageRow(Base):
    """Every message received, with the answer given: resends of an MTDiep get it back."""

    __tablename__ = "ta_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    sender: Mapped[str] = mapped_column(String(64))
    type: Mapped[int] = mapped_column(Integer)
    tax_code: Mapped[str | None] = mapped_column(String(14))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    body_sha256: Mapped[str] = mapped_column(String(64))
    request_xml: Mapped[bytes] = mapped_column(LargeBinary)
    response_xml: Mapped[bytes] = mapped_column(LargeBinary)
    http_status: Mapped[int] = mapped_column(Integer, default=200)
    accepted_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    resend_count: Mapped[int] = mapped_column(Integer, default=0)


class InvoiceRow(Base):
    """An accepted invoice, as the tax office sees it."""

    __tablename__ = "ta_invoice"
    __table_args__ = (
        UniqueConstraint("seller_tax_code", "template", "series", "number", name="uq_ta_number"),
        Index("ix_ta_invoice_seller_date", "seller_tax_code", "issue_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mccqt: Mapped[str] = mapped_column(String(40), unique=True)
    mode: Mapped[str] = mapped_column(String(20))
    seller_tax_code: Mapped[str] = mapped_column(ForeignKey("ta_seller.tax_code"))
    seller_name: Mapped[str] = mapped_column(String(400))
    buyer_name: Mapped[str | None] = mapped_column(String(400))
    buyer_tax_code: Mapped[str | None] = mapped_column(String(14))
    template: Mapped[str] = mapped_column(String(1))
    series: Mapped[str] = mapped_column(String(6))
    number: Mapped[int] = mapped_column(BigInteger)
    issue_date: Mapped[date] = mapped_column(Date)
    total_pretax: Mapped[int] = mapped_column(BigInteger)
    total_vat: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    # The vehicle's plate as the invoice names it (TTKhac "Biển số xe"), letters and digits
    # only, so a tax officer's search finds it however it is typed.
    plate_key: Mapped[str | None] = mapped_column(String(16), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_xml: Mapped[bytes] = mapped_column(LargeBinary)
    # The countersigned invoice (authority-coded mode), or None.
    coded_xml: Mapped[bytes | None] = mapped_column(LargeBinary)
    signature_report: Mapped[dict[str, object]] = mapped_column(JSON)


class RejectionRow(Base):
    __tablename__ = "ta_rejection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    message_type: Mapped[int] = mapped_column(Integer)
    seller_tax_code: Mapped[str | None] = mapped_column(String(14), index=True)
    template: Mapped[str | None] = mapped_column(String(1))
    series: Mapped[str | None] = mapped_column(String(6))
    number: Mapped[int | None] = mapped_column(BigInteger)
    issue_date: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    # The rejected document (truncated to 256 KiB) for the tax officer to look at.
    original_xml: Mapped[bytes | None] = mapped_column(LargeBinary)
    note: Mapped[str | None] = mapped_column(Text)


metadata = Base.metadata


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"check_same_thread": False, "timeout": 30} if url.startswith("sqlite") else {}
    engine = create_engine(url, connect_args=connect_args)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


# Columns added after the first release: (table, column, DDL type). create_all makes new tables
# only, so a database kept from an earlier run (the demo's) gets them here.
ADDED_COLUMNS = (("ta_invoice", "plate_key", "VARCHAR(16)"),)


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        for table, column, ddl in ADDED_COLUMNS:
            have = {c["name"] for c in inspect(conn).get_columns(table)}
            if column not in have:
                conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
