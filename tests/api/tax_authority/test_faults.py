"""Injected faults, seen by a real HTTP client against a real server (uvicorn in a thread)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from einvoice import tdiep
from simulator.tax_authority import create_app
from simulator.tax_authority.db import InvoiceRow, MessageRow
from simulator.tax_authority.faults import ConnectionDropped
from tests.api.tax_authority.conftest import make_settings, register_demo
from tests.unit.tax_authority.factory import KeySet, build_invoice, envelope


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def faulty_app(tmp_path: Path, keyset: KeySet, **faults: object):
    app = create_app(
        make_settings(tmp_path, **faults), countersign=keyset.authority.countersign_authority
    )
    register_demo(app)
    return app


def rows(app, model) -> int:
    with app.state.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_error_rate_one_answers_503_and_records_nothing(tmp_path: Path, keyset: KeySet) -> None:
    app = faulty_app(tmp_path, keyset, fault_error_rate=1.0)
    body = envelope([build_invoice(keyset.seller)])
    with serving(app) as url, httpx.Client(base_url=url) as http:
        for _ in range(3):
            response = http.post("/api/tdiep", content=body)
            assert response.status_code == 503
        # Pages are not affected: the tax office still works.
        assert http.get("/").status_code == 200
    assert rows(app, MessageRow) == 0


def test_dropped_connection_gives_the_client_a_transport_error(
    tmp_path: Path, keyset: KeySet
) -> None:
    app = faulty_app(tmp_path, keyset, fault_drop_rate=1.0)
    body = envelope([build_invoice(keyset.seller)])
    with serving(app) as url, httpx.Client(base_url=url) as http:
        with pytest.raises(httpx.TransportError):
            http.post("/api/tdiep", content=body)
        # The server survives and keeps serving.
        assert http.get("/healthz").status_code == 200
    assert rows(app, MessageRow) == 0


def test_answer_lost_after_work_then_resend_gets_stored_answer(
    tmp_path: Path, keyset: KeySet
) -> None:
    lossy = faulty_app(tmp_path, keyset, fault_drop_after_rate=1.0)
    body = envelope([build_invoice(keyset.seller)], message_id="V0101234567LOST0001")
    with (
        serving(lossy) as url,
        httpx.Client(base_url=url) as http,
        pytest.raises(httpx.TransportError),
    ):
        http.post("/api/tdiep", content=body)
    assert rows(lossy, InvoiceRow) == 1  # the authority did the work
    lossy.state.engine.dispose()

    healthy = create_app(make_settings(tmp_path))  # same database, no faults
    with serving(healthy) as url, httpx.Client(base_url=url) as http:
        response = http.post("/api/tdiep", content=body)
    assert response.status_code == 200
    assert response.headers["x-resent"] == "1"
    reply = tdiep.parse_reply(response.content)
    assert reply.result is not None
    (result,) = tdiep.parse_check_result(reply.result)
    assert result.accepted
    assert rows(healthy, InvoiceRow) == 1
    healthy.state.engine.dispose()


def test_added_latency(tmp_path: Path, keyset: KeySet) -> None:
    app = faulty_app(tmp_path, keyset, fault_latency_ms=300)
    with TestClient(app) as client:
        started = time.monotonic()
        response = client.post("/api/tdiep", content=b"<x/>")
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 400  # then answered normally (T005: not a TDiep)


def _statuses(tmp_path: Path, keyset: KeySet, seed: int) -> list[int]:
    app = faulty_app(tmp_path, keyset, fault_error_rate=0.5, fault_seed=seed)
    with TestClient(app) as client:
        return [client.post("/api/tdiep", content=b"<x/>").status_code for _ in range(24)]


def test_faults_are_reproducible_with_a_seed(tmp_path: Path, keyset: KeySet) -> None:
    first = _statuses(tmp_path / "a", keyset, seed=11)
    second = _statuses(tmp_path / "b", keyset, seed=11)
    other = _statuses(tmp_path / "c", keyset, seed=12)
    assert first == second
    assert set(first) == {400, 503}
    assert first != other


def test_drop_without_a_server_connection_raises(tmp_path: Path, keyset: KeySet) -> None:
    app = faulty_app(tmp_path, keyset, fault_drop_rate=1.0)
    with TestClient(app) as client, pytest.raises(ConnectionDropped):
        client.post("/api/tdiep", content=b"<x/>")


def test_faults_can_cover_lookups_too(tmp_path: Path, keyset: KeySet) -> None:
    app = faulty_app(
        tmp_path, keyset, fault_error_rate=1.0, fault_paths="/api/tdiep, /api/invoices"
    )
    with TestClient(app) as client:
        assert client.get("/api/invoices/M1-26-41849-00000000001").status_code == 503
        assert client.get("/api/errors").status_code == 200
        assert client.get("/lookup", params={"code": "x"}).status_code == 200  # not faulted
