"""The project's own tax-authority client (einvoice.client) reads the mock's answers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from einvoice import tdiep
from einvoice.client import TaxAuthorityClient
from einvoice.verify import verify_invoice
from tests.unit.tax_authority.factory import KeySet, build_invoice, envelope


def test_client_sends_and_looks_up(client: TestClient, keyset: KeySet) -> None:
    ta = TaxAuthorityClient("http://testserver", http=client)
    response = ta.send(envelope([build_invoice(keyset.seller, number=1)]))
    assert response.http_status == 200 and response.reply.ack.received
    assert response.reply.result is not None
    (result,) = tdiep.parse_check_result(response.reply.result)
    assert result.accepted and result.mccqt is not None
    copy = ta.lookup(result.mccqt)
    assert copy is not None and verify_invoice(copy).valid
    assert ta.lookup("M1-26-41849-99999999999") is None


def test_client_gets_coded_invoice_and_unreadable_acks(client: TestClient, keyset: KeySet) -> None:
    ta = TaxAuthorityClient("http://testserver", http=client)
    coded = ta.send(
        envelope(
            [build_invoice(keyset.seller, number=1, mode="authority_coded")],
            tdiep.MessageType.CODING_REQUEST,
        )
    )
    assert coded.reply.result is not None
    assert coded.reply.result.header.type == tdiep.MessageType.CODED_INVOICE
    unreadable = ta.send(b"<TDiep>")
    assert unreadable.http_status == 400
    assert not unreadable.reply.ack.received
    assert unreadable.reply.ack.reasons[0].code == "T001"
