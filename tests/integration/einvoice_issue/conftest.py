"""The mock tax authority (real app, own SQLite) and our invoice tables on real PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from einvoice.keys import DemoKeys, ensure_demo_keys
from einvoice.maker import XmlInvoiceMaker
from einvoice.signing import Signer
from gateway import migrate
from gateway.db import make_engine, make_session_factory
from simulator.tax_authority.app import create_app
from simulator.tax_authority.settings import TaxAuthoritySettings
from tests.einvoice_schema_guard import (  # autouse: every built invoice is XSD-checked
    every_built_invoice_is_valid as every_built_invoice_is_valid,
)

SELLER_MST = "0101234567"


@pytest.fixture(scope="session")
def demo_keys(tmp_path_factory: pytest.TempPathFactory) -> DemoKeys:
    return ensure_demo_keys(tmp_path_factory.mktemp("keys"), SELLER_MST, "Bãi xe Phố Cổ")


@pytest.fixture(scope="session")
def xml_maker(demo_keys: DemoKeys) -> XmlInvoiceMaker:
    return XmlInvoiceMaker(Signer.from_pkcs12(demo_keys.seller_pkcs12, demo_keys.password))


@pytest.fixture()
def pg_engine(pg_url: str) -> Iterator[Engine]:
    migrate.upgrade(pg_url, "billing@head")  # billing's outbox feeds the worker
    migrate.upgrade(pg_url, "einvoice@head")
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def pg_sessions(pg_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(pg_engine)


def authority_settings(tmp_path: Path, keys: DemoKeys, **faults: Any) -> TaxAuthoritySettings:
    return TaxAuthoritySettings(
        data_dir=tmp_path / "tax-authority",
        database_url=f"sqlite:///{(tmp_path / 'tax-authority.db').as_posix()}",
        pkcs12=keys.authority_pkcs12,
        pkcs12_password=keys.password,
        seed_demo_seller=True,
        demo_seller_tax_code=SELLER_MST,
        demo_seller_cash_register_code="41849",
        **faults,
    )


def make_authority(tmp_path: Path, keys: DemoKeys, **faults: Any) -> FastAPI:
    return create_app(authority_settings(tmp_path, keys, **faults))


@dataclass
class RunningServer:
    url: str
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def serve() -> Iterator[Any]:
    """Start an app under uvicorn on a free 127.0.0.1 port (real sockets: dropped connections)."""
    running: list[RunningServer] = []

    def start(app: FastAPI) -> RunningServer:
        port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        item = RunningServer(f"http://127.0.0.1:{port}", app, server, thread)
        running.append(item)
        return item

    yield start
    for item in running:
        item.server.should_exit = True
        item.thread.join(timeout=10)
