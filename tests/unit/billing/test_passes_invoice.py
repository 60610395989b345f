"""Every monthly pass sale gets an e-invoice: the sale queues an invoice_request that einvoice's
worker turns into a signed, schema-valid invoice, and reconciliation ties sales to invoices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from billing.adapters import orm
from billing.adapters import outbox as billing_outbox
from billing.adapters.uow import UnitOfWork
from billing.domain.ledger import IdempotencyConflict
from billing.domain.model import DomainError
from billing.services import InvoiceTotals, buy_monthly_pass, list_passes, reconcile
from billing.services.reads import LOCAL
from billing.services.seed import CENTRAL_LOT, DemoData
from tests.unit.billing.conftest import vehicle_id

NOVEMBER = date(2026, 11, 1)
TRUCK_CAR = "30E-246.80"  # account "logistics" (a business), car_le9


def invoice_requests(uow: UnitOfWork) -> list[orm.OutboxRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(orm.OutboxRow).where(orm.OutboxRow.kind == "invoice_request")
            )
        )


def test_a_pass_sale_queues_one_invoice_request(uow: UnitOfWork, demo: DemoData) -> None:
    vid = vehicle_id(uow, "30E24680")
    pass_id = buy_monthly_pass(uow, vid, CENTRAL_LOT, "day_night", NOVEMBER, "sale-1")
    assert buy_monthly_pass(uow, vid, CENTRAL_LOT, "day_night", NOVEMBER, "sale-1") == pass_id
    (req,) = invoice_requests(uow)
    p = req.payload
    assert req.key == p["event_id"] == "pass:sale-1"
    assert (p["pass_id"], p["fare_vnd"], p["plate"], p["lot_id"]) == (
        pass_id,
        4_000_000,
        TRUCK_CAR,
        CENTRAL_LOT,
    )
    assert "entry_at" not in p and "session_id" not in p
    assert p["item"]["name"] == (
        "Vé tháng gửi ô tô đến 9 chỗ (ngày và đêm) - 30E-246.80 - "
        "Bãi xe Hoàn Kiếm - Lý Thái Tổ (01/11/2026 - 30/11/2026)"
    )
    assert (p["item"]["valid_from"], p["item"]["valid_until"]) == ("2026-11-01", "2026-11-30")
    assert p["buyer"]["kind"] == "business" and p["buyer"]["tax_code"] == "0101234567"
    assert p["seller"]["tax_code"] == "0109876543"
    with uow:
        entry = uow.session.get(orm.JournalEntry, p["journal_entry_id"])
    assert entry is not None and (entry.kind, entry.event_id) == ("pass", "pass:sale-1")
    (view,) = list_passes(uow, account_id=demo.accounts["logistics"])
    assert (view.id, view.plate, view.valid_until) == (pass_id, TRUCK_CAR, date(2026, 11, 30))
    with pytest.raises(IdempotencyConflict):  # the same sale id for another pass
        buy_monthly_pass(uow, vid, CENTRAL_LOT, "day", NOVEMBER, "sale-1")
    with pytest.raises(DomainError, match="request id"):
        buy_monthly_pass(uow, vid, CENTRAL_LOT, "day", NOVEMBER, " ")


def test_einvoice_issues_the_pass_invoice(uow: UnitOfWork, demo: DemoData, tmp_path: Path) -> None:
    from einvoice.db import invoices
    from einvoice.db import metadata as einvoice_metadata
    from einvoice.keys import ensure_demo_keys
    from einvoice.maker import XmlInvoiceMaker
    from einvoice.signing import Signer
    from einvoice.worker import InvoiceWorker
    from einvoice.xsd import validate

    einvoice_metadata.create_all(uow.session_factory.kw["bind"])
    keys = ensure_demo_keys(tmp_path, "0109876543")
    maker = XmlInvoiceMaker(Signer.from_pkcs12(keys.seller_pkcs12, keys.password))
    vid = vehicle_id(uow, "30E24680")
    buy_monthly_pass(uow, vid, CENTRAL_LOT, "day", NOVEMBER, "sale-2")
    worker = InvoiceWorker(
        uow.session_factory,
        maker,
        clock=lambda: datetime(2026, 11, 1, 3, tzinfo=UTC),
        outbox=billing_outbox,
    )
    (result,) = worker.run_once()
    assert (result.outcome, result.event_id) == ("issued", "pass:sale-2"), result.error
    with uow.session_factory() as s:
        row = s.execute(select(invoices)).one()
    assert (row.event_id, row.total_vnd, row.plate) == ("pass:sale-2", 3_000_000, TRUCK_CAR)
    assert validate(row.xml) == []
    hdon = etree.fromstring(row.xml)
    names = [el.text for el in hdon.iter("THHDVu")]
    assert names == [
        "Vé tháng gửi ô tô đến 9 chỗ (ban ngày) - 30E-246.80 - "
        "Bãi xe Hoàn Kiếm - Lý Thái Tổ (01/11/2026 - 30/11/2026)"
    ]
    extras = {el.findtext("TTruong"): el.findtext("DLieu") for el in hdon.iter("TTin")}
    assert extras["Hiệu lực từ"] == "2026-11-01" and "Giờ vào" not in extras
    assert invoice_requests(uow)[0].processed_at is not None


def test_reconciliation_ties_pass_sales_to_their_invoices(uow: UnitOfWork, demo: DemoData) -> None:
    vid = vehicle_id(uow, "30E24680")
    buy_monthly_pass(uow, vid, CENTRAL_LOT, "day_night", NOVEMBER, "sale-3")
    today = datetime.now(LOCAL).date()  # the sale is posted now
    r = reconcile(uow, today, CENTRAL_LOT)
    assert r.ok, r.mismatches
    assert (r.lots[0].passes_sold, r.lots[0].passes_vnd) == (1, 4_000_000)
    asked: list[str] = []

    def none(events: Sequence[str]) -> Mapping[str, InvoiceTotals]:
        asked.extend(events)
        return {}

    r = reconcile(uow, today, CENTRAL_LOT, invoices=none)
    assert "pass:sale-3" in asked
    assert [(m.kind, m.ref) for m in r.mismatches] == [("invoice_missing", "pass:sale-3")]

    def right(events: Sequence[str]) -> Mapping[str, InvoiceTotals]:
        return {"pass:sale-3": InvoiceTotals(1, 4_000_000)}

    assert reconcile(uow, today, CENTRAL_LOT, invoices=right).ok
    with uow:  # a pass row that disagrees with what its sale debited
        mp = uow.session.scalars(select(orm.MonthlyPass)).one()
        mp.price_vnd = 3_000_000
        uow.commit()
    r = reconcile(uow, today, CENTRAL_LOT, invoices=right)
    assert [m.kind for m in r.mismatches] == ["pass_amount"]
