from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from einvoice.db import metadata
from gateway.db import make_engine, make_session_factory
from tests.einvoice_schema_guard import (  # autouse: every built invoice is XSD-checked
    every_built_invoice_is_valid as every_built_invoice_is_valid,
)
from tests.unit.einvoice_issue.fakes import outbox_metadata


@pytest.fixture()
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    metadata.create_all(eng)
    outbox_metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture()
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture(scope="session")
def demo_keys(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from einvoice.keys import ensure_demo_keys

    return ensure_demo_keys(tmp_path_factory.mktemp("keys"), "0101234567", "Bãi xe Phố Cổ")


@pytest.fixture(scope="session")
def xml_maker(demo_keys: Any) -> Any:
    from einvoice.maker import XmlInvoiceMaker
    from einvoice.signing import Signer

    return XmlInvoiceMaker(Signer.from_pkcs12(demo_keys.seller_pkcs12, demo_keys.password))
