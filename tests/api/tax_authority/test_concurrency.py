"""Concurrent sends over real sockets: one record per message id, no lost invoice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from einvoice import tdiep
from simulator.tax_authority.db import InvoiceRow, MessageRow
from tests.api.tax_authority.test_faults import serving
from tests.unit.tax_authority.factory import KeySet, build_invoice, envelope


def test_same_message_sent_eight_times_at_once(app, keyset: KeySet) -> None:
    body = envelope([build_invoice(keyset.seller, number=1)], message_id="V0101234567SAME0001")
    with serving(app) as url, ThreadPoolExecutor(8) as pool:

        def send(_: int) -> bytes:
            with httpx.Client(base_url=url, timeout=30) as http:
                response = http.post("/api/tdiep", content=body)
                assert response.status_code == 200
                return response.content

        answers = list(pool.map(send, range(8)))
    assert len(set(answers)) == 1  # every sender got the one stored answer
    with app.state.sessions() as s:
        assert s.scalar(select(func.count()).select_from(MessageRow)) == 1
        assert s.scalar(select(func.count()).select_from(InvoiceRow)) == 1


def test_many_invoices_from_parallel_senders(app, keyset: KeySet) -> None:
    bodies = [envelope([build_invoice(keyset.seller, number=n)]) for n in range(1, 25)]
    with serving(app) as url, ThreadPoolExecutor(6) as pool:

        def send(body: bytes) -> tdiep.InvoiceResult:
            with httpx.Client(base_url=url, timeout=30) as http:
                reply = tdiep.parse_reply(http.post("/api/tdiep", content=body).content)
            assert reply.result is not None
            return tdiep.parse_check_result(reply.result)[0]

        results = list(pool.map(send, bodies))
    assert all(r.accepted for r in results), [r.reasons for r in results if not r.accepted]
    with app.state.sessions() as s:
        numbers = s.scalars(select(InvoiceRow.number).order_by(InvoiceRow.number)).all()
    assert numbers == list(range(1, 25))
