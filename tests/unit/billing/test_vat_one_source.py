"""One VAT source by date: the fare, the ledger, the invoice request and the invoice agree.

They used not to: the tariffs said 10% (``vat_percent`` in each tariff file, what the ledger and
``parking tariff quote`` used: "VAT 455 ₫" on 5,000 ₫) while invoices charged the 8% reduced
rate in force (370 ₫).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters import outbox as billing_outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.vat import rate_on, split_inclusive
from billing.services.seed import DemoData
from tests.unit.billing.conftest import HN, T0, Lane

CAR = "30A-123.45"  # account "an"


def _ledger_vat(uow: UnitOfWork, event_id: str) -> int:
    with uow:
        entry = uow.session.scalar(
            select(orm.JournalEntry).where(orm.JournalEntry.event_id == event_id)
        )
        assert entry is not None
        return -sum(
            ln.amount_vnd
            for ln in uow.session.scalars(
                select(orm.JournalLine).where(orm.JournalLine.entry_id == entry.id)
            )
            if ln.ledger_account == "liability:vat_payable"
        )


@pytest.mark.parametrize(
    ("day", "percent"),
    [
        (datetime(2026, 11, 23, 9, 0, tzinfo=HN), 8),  # Decree 174/2025/ND-CP: 8% to 31/12/2026
        (datetime(2027, 1, 4, 9, 0, tzinfo=HN), 10),  # the standard rate again
    ],
)
def test_an_exit_is_booked_and_invoiced_at_the_rate_of_its_day(
    uow: UnitOfWork, demo: DemoData, tmp_path: Path, day: datetime, percent: int
) -> None:
    from einvoice.db import invoices
    from einvoice.db import metadata as einvoice_metadata
    from einvoice.keys import ensure_demo_keys
    from einvoice.maker import XmlInvoiceMaker
    from einvoice.signing import Signer
    from einvoice.worker import InvoiceWorker

    lane = Lane(uow, demo)
    start = (day - T0).total_seconds() / 60
    assert lane.enter(CAR, start).open
    out = lane.leave(CAR, start + 60)
    assert out.open and out.fare_vnd
    fare = out.fare_vnd
    expected = split_inclusive(fare, percent).vat
    assert rate_on(day.date()).percent == percent

    exit_event = _exit_event(uow)
    assert _ledger_vat(uow, exit_event) == expected
    with uow:
        request = uow.session.scalar(
            select(orm.OutboxRow).where(
                orm.OutboxRow.kind == "invoice_request", orm.OutboxRow.key == exit_event
            )
        )
        assert request is not None and request.payload["vat_percent"] == percent

    einvoice_metadata.create_all(uow.session_factory.kw["bind"])
    keys = ensure_demo_keys(tmp_path, "0109876543")
    maker = XmlInvoiceMaker(Signer.from_pkcs12(keys.seller_pkcs12, keys.password))
    # Issued 40 days later (for the first exit, after the 8% period ended): the invoice keeps
    # the rate the fare was booked at.
    issued = (day + timedelta(days=40)).astimezone(UTC)
    worker = InvoiceWorker(uow.session_factory, maker, clock=lambda: issued, outbox=billing_outbox)
    (result,) = worker.run_once()
    assert result.outcome == "issued", result.error
    with uow.session_factory() as s:
        row = s.execute(select(invoices)).one()
    assert (row.total_vnd, row.vat_vnd, row.vat_rate) == (fare, expected, f"{percent}%")


def _exit_event(uow: UnitOfWork) -> str:
    with uow:
        event_id = uow.session.scalar(
            select(orm.Passage.event_id)
            .where(orm.Passage.direction == "exit")
            .order_by(orm.Passage.id.desc())
        )
    assert event_id is not None
    return event_id
