"""An invoice_request for a sale that is not a stay (a monthly pass) names its item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from einvoice.invoice_request import invoice_from_request
from einvoice.worker import InvoiceIdentity
from tests.unit.einvoice_issue.fakes import request_payload

ISSUED = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def pass_payload(**item: Any) -> dict[str, Any]:
    payload = request_payload("pass:sale-1", fare=3_000_000)
    for stay_only in ("entry_at", "exit_at", "session_id", "gate_id"):
        del payload[stay_only]
    payload["item"] = {
        "kind": "monthly_pass",
        "name": "Vé tháng gửi ô tô đến 9 chỗ (ban ngày) - 30A-123.45 - Bãi xe Hàng Bài",
        "code": "PARKING-PASS-DAY",
        "valid_from": "2026-11-01",
        "valid_until": "2026-11-30",
        **item,
    }
    return payload


def test_the_item_becomes_the_invoice_line() -> None:
    invoice = invoice_from_request(pass_payload(), number=7, issued_at=ISSUED, mccqt="x" * 23)
    (line,) = invoice.lines
    assert line.name.startswith("Vé tháng gửi ô tô") and line.code == "PARKING-PASS-DAY"
    assert line.total == invoice.totals.total == 3_000_000
    extras = dict(invoice.extras)
    assert (extras["Hiệu lực từ"], extras["Hiệu lực đến"]) == ("2026-11-01", "2026-11-30")
    assert "Giờ vào" not in extras and "Cổng ra" not in extras
    assert "Mã sự kiện" not in extras  # our ids stay off the invoice's face


def test_the_maker_signs_a_schema_valid_pass_invoice(xml_maker: Any) -> None:
    identity = InvoiceIdentity("1", "C26MPK", 7, ISSUED, "M1-26-41849-00000000007")
    signed = xml_maker(pass_payload(), identity)  # the XSD guard checks the built HDon
    assert signed.total_vnd == 3_000_000 and "Vé tháng".encode() in signed.xml


def test_an_item_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="item needs a name"):
        invoice_from_request(pass_payload(name=" "), number=1, issued_at=ISSUED)
