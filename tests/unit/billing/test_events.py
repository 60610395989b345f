"""billing's outbox events: what is written is what is read back, and a bad payload says why."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from billing.domain.events import (
    AutoTopUpRequested,
    BarrierDecided,
    EventPayloadError,
    InvoiceAdjustmentRequested,
    InvoiceBuyer,
    InvoiceRequested,
    LowBalanceNoticed,
    SaleItem,
)
from billing.domain.model import InvoiceMode, Seller

ICT = timezone(timedelta(hours=7))
SELLER = Seller(
    "Công ty TNHH Bãi Xe",
    "0109876543",
    "1 Tràng Tiền",
    "1",
    "C26MPK",
    InvoiceMode.CASH_REGISTER,
    "41849",
)
BUYER = InvoiceBuyer(3, "person", "Nguyễn Văn An")
EXIT = InvoiceRequested(
    event_id="ev-1",
    journal_entry_id=7,
    lot_id="hn-1",
    lot_name="Bãi xe Hoàn Kiếm",
    plate="30A-123.45",
    vehicle_class="car_le9",
    fare_vnd=25_000,
    vat_percent=8,
    seller=SELLER,
    buyer=BUYER,
    session_id=4,
    gate_id="hn-1-out",
    entry_at=datetime(2026, 11, 23, 9, 0, tzinfo=ICT),
    exit_at=datetime(2026, 11, 23, 10, 35, tzinfo=ICT),
)
PASS = InvoiceRequested(
    event_id="pass:s-1",
    journal_entry_id=8,
    lot_id="hn-1",
    lot_name="Bãi xe Hoàn Kiếm",
    plate="30A-123.45",
    vehicle_class="car_le9",
    fare_vnd=3_000_000,
    vat_percent=8,
    seller=SELLER,
    buyer=BUYER,
    pass_id=2,
    item=SaleItem(
        "monthly_pass", "Vé tháng", "PARKING-PASS-DAY", "day", date(2026, 11, 1), date(2026, 11, 30)
    ),
)
REFUND = InvoiceAdjustmentRequested(
    "ev-1", 9, "Barrier late", 5_000, 7, 3, "hn-1", "op-1", request_key="refund:r-1"
)


@pytest.mark.parametrize(
    "event",
    [
        BarrierDecided(
            "ev-1", "hn-1", "hn-1-out", True, "25.000 ₫", "exit_paid", "30A-123.45", 25_000, 475_000
        ),
        EXIT,
        PASS,
        REFUND,
    ],
)
def test_what_is_written_is_read_back(event: Any) -> None:
    assert type(event).from_payload(event.to_payload()) == event


def test_kinds_and_keys_are_the_outbox_contract() -> None:
    assert (EXIT.kind, EXIT.key) == ("invoice_request", "ev-1")
    assert (REFUND.kind, REFUND.key) == ("invoice_adjustment", "refund:r-1")
    assert LowBalanceNoticed("ev-1", 3, 9_000, 50_000).key == "ev-1"
    topup = AutoTopUpRequested("ev-1", 3, "momo", 100_000, 20_000, 0, 9_000)
    assert (topup.kind, topup.to_payload()["amount_vnd"]) == ("auto_topup_request", 100_000)
    exit_payload = EXIT.to_payload()
    assert exit_payload["entry_at"] == "2026-11-23T09:00:00+07:00"
    assert "item" not in exit_payload and "pass_id" not in exit_payload
    assert (
        "entry_at" not in PASS.to_payload()
        and PASS.to_payload()["item"]["valid_from"] == "2026-11-01"
    )


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"fare_vnd": None}, "no fare_vnd"),
        ({"fare_vnd": "25000"}, "fare_vnd must be an integer"),
        ({"fare_vnd": True}, "fare_vnd must be an integer"),
        ({"fare_vnd": -5}, "fare_vnd must be positive"),
        ({"entry_at": "2026-11-23T09:00:00"}, "no UTC offset"),
        ({"exit_at": "yesterday"}, "not an ISO 8601 time"),
        ({"exit_at": None}, r"a stay \(entry_at, exit_at\) or an item"),
        ({"seller": None}, "no seller"),
        ({"seller": {**SELLER.as_payload(), "tax_code": "123"}}, "seller"),
        ({"seller": {**SELLER.as_payload(), "invoice_mode": "paper"}}, "seller"),
        ({"buyer": {"name": "x"}}, "no account_id"),
    ],
)
def test_a_malformed_invoice_request_says_what_is_wrong(change: dict[str, Any], why: str) -> None:
    payload = {**EXIT.to_payload(), **change}
    with pytest.raises(EventPayloadError, match=why):
        InvoiceRequested.from_payload(payload)


def test_an_adjustment_refunds_or_corrects() -> None:
    with pytest.raises(EventPayloadError, match="refunds an amount or changes fields"):
        InvoiceAdjustmentRequested.from_payload({"original_event_id": "e", "journal_entry_id": 1})
    fix = InvoiceAdjustmentRequested.from_payload(
        {"original_event_id": "e", "journal_entry_id": 1, "plate": "51F-999.99", "junk": 1},
        replaceable=("plate",),
    )
    assert dict(fix.changes) == {"plate": "51F-999.99"} and fix.key == "adjustment:1"
