"""The mock tax authority on PostgreSQL (its default is SQLite; production-like runs use PG)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from einvoice import tdiep
from simulator.tax_authority import create_app
from simulator.tax_authority.db import InvoiceRow, RejectionRow
from simulator.tax_authority.settings import TaxAuthoritySettings
from tests.api.tax_authority.conftest import register_demo
from tests.unit.tax_authority.factory import KeySet, build_invoice, envelope, make_keys

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def keyset(tmp_path_factory: pytest.TempPathFactory) -> KeySet:
    return make_keys(tmp_path_factory.mktemp("ta-keys"))


def test_batch_resend_and_hostile_fields_on_postgres(
    pg_url: str, tmp_path: Path, keyset: KeySet
) -> None:
    settings = TaxAuthoritySettings(data_dir=tmp_path, database_url=pg_url)
    app = create_app(settings, countersign=keyset.authority.countersign_authority)
    register_demo(app)
    try:
        with TestClient(app) as client:
            batch = envelope([build_invoice(keyset.seller, number=n) for n in range(1, 41)])
            first = client.post("/api/tdiep", content=batch)
            again = client.post("/api/tdiep", content=batch)
            assert first.status_code == 200 and first.content == again.content
            reply = tdiep.parse_reply(first.content)
            assert reply.result is not None
            results = tdiep.parse_check_result(reply.result)
            assert len(results) == 40 and all(r.accepted for r in results)

            # Oversized header and seller fields of a refused invoice must not break storage.
            hostile = build_invoice(None, number=41).replace(
                b"<MST>0101234567</MST>", b"<MST>" + b"9" * 200 + b"</MST>", 1
            )
            body = envelope([hostile], tax_code="8" * 200)
            answer = client.post("/api/tdiep", content=body)
            assert answer.status_code == 200
            (refused,) = tdiep.parse_check_result(tdiep.parse_reply(answer.content).result)  # type: ignore[arg-type]
            assert not refused.accepted

            coded = client.post(
                "/api/tdiep",
                content=envelope(
                    [build_invoice(keyset.seller, number=1, mode="authority_coded")],
                    tdiep.MessageType.CODING_REQUEST,
                ),
            )
            assert tdiep.parse_reply(coded.content).result.header.type == 202  # type: ignore[union-attr]
            assert client.get("/").status_code == 200
            assert client.get("/sellers").status_code == 200
        with app.state.sessions() as s:
            assert s.scalar(select(func.count()).select_from(InvoiceRow)) == 41
            assert s.scalar(select(func.count()).select_from(RejectionRow)) == 1
    finally:
        app.state.engine.dispose()
