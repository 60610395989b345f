from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from simulator.tax_authority import create_app
from simulator.tax_authority.registry import RegisteredSeller
from simulator.tax_authority.settings import TaxAuthoritySettings
from simulator.tax_authority.store import register_seller
from tests.einvoice_schema_guard import (  # autouse: every built invoice is XSD-checked
    every_built_invoice_is_valid as every_built_invoice_is_valid,
)
from tests.unit.tax_authority.factory import CR_CODE, SELLER_MST, KeySet, make_keys


@pytest.fixture(scope="session")
def keyset(tmp_path_factory: pytest.TempPathFactory) -> KeySet:
    return make_keys(tmp_path_factory.mktemp("ta-keys"))


def make_settings(tmp_path: Path, **overrides: object) -> TaxAuthoritySettings:
    return TaxAuthoritySettings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{(tmp_path / 'ta.db').as_posix()}",
        **overrides,  # type: ignore[arg-type]
    )


def register_demo(app) -> None:
    with app.state.sessions.begin() as session:
        register_seller(
            session,
            RegisteredSeller(SELLER_MST, "Công ty TNHH Bãi đỗ xe Thông Minh", CR_CODE, ("1/*",)),
        )


@pytest.fixture()
def app(tmp_path: Path, keyset: KeySet):
    application = create_app(
        make_settings(tmp_path), countersign=keyset.authority.countersign_authority
    )
    register_demo(application)
    yield application
    application.state.engine.dispose()


@pytest.fixture()
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c
