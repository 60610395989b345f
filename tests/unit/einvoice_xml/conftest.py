from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from einvoice.invoice_request import invoice_from_request
from einvoice.keys import DemoKeys, ensure_demo_keys
from einvoice.model import LOCAL_TZ, Invoice
from einvoice.signing import Signer
from tests.einvoice_schema_guard import (  # autouse: every built invoice is XSD-checked
    every_built_invoice_is_valid as every_built_invoice_is_valid,
)

SELLER_MST = "0101234567"

PERSON_REQUEST: dict[str, Any] = {
    "event_id": "ev-0001",
    "journal_entry_id": 7,
    "session_id": 3,
    "lot_id": "HN-HK-01",
    "lot_name": "Bãi xe Hoàn Kiếm",
    "gate_id": "exit-2",
    "plate": "30A-123.45",
    "vehicle_class": "car",
    "entry_at": "2026-03-02T08:00:00+07:00",
    "exit_at": "2026-03-02T10:15:00+07:00",
    "fare_vnd": 25000,
    "seller": {
        "name": "Công ty TNHH Bãi Đỗ Xe Thông Minh",
        "tax_code": SELLER_MST,
        "address": "1 Tràng Tiền, phường Hoàn Kiếm, Hà Nội",
        "invoice_template": "1",
        "invoice_series": "C26MPK",
        "invoice_mode": "cash_register",
        "cash_register_code": "41849",
    },
    "buyer": {
        "account_id": 42,
        "kind": "person",
        "name": "Nguyễn Văn An",
        "tax_code": None,
        "address": None,
    },
}

BUSINESS_BUYER = {
    "account_id": 77,
    "kind": "business",
    "name": "Công ty Cổ phần Vận tải Đông Á",
    "tax_code": "0309876543",
    "address": "12 Lê Lợi, phường Bến Thành, TP. Hồ Chí Minh",
}

ISSUED_AT = datetime(2026, 3, 2, 10, 15, 4, tzinfo=LOCAL_TZ)
SIGNED_AT = datetime(2026, 3, 2, 10, 15, 5, tzinfo=LOCAL_TZ)
KEYS_VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)  # fixed dates: tests never depend on today


def request(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(PERSON_REQUEST)
    for key, value in changes.items():
        payload[key] = value
    return payload


@pytest.fixture(scope="session")
def demo_keys(tmp_path_factory: pytest.TempPathFactory) -> DemoKeys:
    return ensure_demo_keys(
        tmp_path_factory.mktemp("keys"),
        SELLER_MST,
        "Công ty TNHH Bãi Đỗ Xe",
        valid_from=KEYS_VALID_FROM,
        valid_days=3650,
    )


@pytest.fixture(scope="session")
def seller_signer(demo_keys: DemoKeys) -> Signer:
    return Signer.from_pkcs12(demo_keys.seller_pkcs12, demo_keys.password)


@pytest.fixture(scope="session")
def authority_signer(demo_keys: DemoKeys) -> Signer:
    return Signer.from_pkcs12(demo_keys.authority_pkcs12, demo_keys.password)


@pytest.fixture()
def make_invoice() -> Callable[..., Invoice]:
    def make(number: int = 1, payload: dict[str, Any] | None = None, **kwargs: Any) -> Invoice:
        kwargs.setdefault("issued_at", ISSUED_AT)
        kwargs.setdefault("mccqt_sequence", number)
        return invoice_from_request(payload or request(), number=number, **kwargs)

    return make


@pytest.fixture()
def tmp_xml(tmp_path: Path) -> Callable[[str, bytes], Path]:
    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


@pytest.fixture()
def signed(make_invoice: Callable[..., Invoice], seller_signer: Signer) -> bytes:
    """A person's invoice, signed by the seller at SIGNED_AT."""
    from einvoice.xml_build import build_hdon

    return seller_signer.sign_seller(build_hdon(make_invoice()), SIGNED_AT)
