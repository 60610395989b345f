"""Signed test invoices for the mock tax authority, made with the document side's own API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from einvoice import keys, model, tdiep, xml_build
from einvoice.invoice_request import invoice_from_request
from einvoice.signing import Signer

SELLER_MST = "0101234567"
OTHER_MST = "0309876543"
CR_CODE = "41849"
LOCAL_TZ = model.LOCAL_TZ


def now_local() -> datetime:
    return datetime.now(LOCAL_TZ)


def series(first: str = "C", kind: str = "M", when: datetime | None = None) -> str:
    return f"{first}{(when or now_local()).year % 100:02d}{kind}PK"


@dataclass
class KeySet:
    seller: Signer  # certificate MST = SELLER_MST
    other: Signer  # certificate MST = OTHER_MST (a different taxpayer)
    authority: Signer
    ca_pem: Path


def make_keys(directory: Path) -> KeySet:
    """A CA, two sellers and an authority, valid since long ago so backdated invoices verify."""
    since = datetime.now(LOCAL_TZ) - timedelta(days=400)
    ca_key, ca_cert = keys.make_ca("Tax authority test CA", not_before=since)
    seller_key, seller_cert = keys.issue_certificate(
        ca_key, ca_cert, "Bãi đỗ xe Thông Minh", SELLER_MST, not_before=since
    )
    other_key, other_cert = keys.issue_certificate(
        ca_key, ca_cert, "Other seller", OTHER_MST, not_before=since
    )
    ta_key, ta_cert = keys.issue_certificate(
        ca_key, ca_cert, keys.DEMO_AUTHORITY_NAME, keys.DEMO_AUTHORITY_TAX_CODE, not_before=since
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem = directory / "ca.pem"
    ca_pem.write_bytes(keys.cert_pem(ca_cert))
    return KeySet(
        seller=Signer(seller_key, seller_cert, (ca_cert,)),
        other=Signer(other_key, other_cert, (ca_cert,)),
        authority=Signer(ta_key, ta_cert, (ca_cert,)),
        ca_pem=ca_pem,
    )


def request_payload(
    fare: int = 25_000, seller_mst: str = SELLER_MST, buyer: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "event_id": "evt-1",
        "session_id": 7,
        "lot_id": "lot-1",
        "lot_name": "Bãi xe Hoàn Kiếm",
        "gate_id": "exit-1",
        "plate": "30A-123.45",
        "vehicle_class": "car",
        "entry_at": (now_local() - timedelta(hours=2)).isoformat(),
        "exit_at": now_local().isoformat(),
        "journal_entry_id": 1,
        "fare_vnd": fare,
        "seller": {
            "name": "Công ty TNHH Bãi đỗ xe Thông Minh",
            "tax_code": seller_mst,
            "address": "1 Tràng Tiền, Hoàn Kiếm, Hà Nội",
            "invoice_template": "1",
            "invoice_series": series(),
            "invoice_mode": "cash_register",
            "cash_register_code": CR_CODE,
        },
        "buyer": buyer or {"account_id": 42, "kind": "person", "name": "Nguyễn Văn An"},
    }


def build_invoice(
    signer: Signer | None,
    *,
    number: int = 1,
    fare: int = 25_000,
    mode: str = "cash_register",
    issued_at: datetime | None = None,
    seller_mst: str = SELLER_MST,
    mccqt: str | None = None,
    series_code: str | None = None,
    mutate: Callable[[etree._Element], None] | None = None,
    buyer: dict[str, Any] | None = None,
) -> bytes:
    """An invoice as bytes; ``mutate`` edits it before signing (so the signature still holds)."""
    issued_at = issued_at or now_local() - timedelta(minutes=1)
    kind = "M" if mode == "cash_register" else "T"
    first = "K" if mode == "no_code" else "C"
    if mode == "cash_register" and mccqt is None:
        mccqt = model.cash_register_mccqt("1", issued_at.year, CR_CODE, number)
    invoice = invoice_from_request(
        request_payload(fare, seller_mst, buyer),
        number=number,
        issued_at=issued_at,
        series=series_code or series(first, kind, issued_at),
        mccqt=mccqt if mode == "cash_register" else None,
    )
    hdon = xml_build.build_hdon(invoice)
    if mutate is not None:
        mutate(hdon)
    if signer is None:
        return xml_build.to_bytes(hdon)
    return signer.sign_seller(hdon, signing_time=issued_at)


def set_text(path: str, value: str) -> Callable[[etree._Element], None]:
    def mutate(hdon: etree._Element) -> None:
        el = hdon.find(path)
        assert el is not None, path
        el.text = value

    return mutate


def envelope(
    invoices: list[bytes],
    mtype: int = tdiep.MessageType.CASH_REGISTER,
    *,
    message_id: str | None = None,
    tax_code: str | None = SELLER_MST,
    count: int | None = None,
) -> bytes:
    sender = f"V{SELLER_MST}"
    return tdiep.build(
        tdiep.Header(
            sender=sender,
            receiver="TCT",
            type=mtype,
            message_id=message_id or tdiep.new_message_id(sender),
            tax_code=tax_code,
            count=len(invoices) if count is None else count,
        ),
        invoices,
    )
