from __future__ import annotations

import pytest

from tests.einvoice_schema_guard import (  # autouse: every built invoice is XSD-checked
    every_built_invoice_is_valid as every_built_invoice_is_valid,
)
from tests.unit.tax_authority.factory import KeySet, make_keys


@pytest.fixture(scope="session")
def keyset(tmp_path_factory: pytest.TempPathFactory) -> KeySet:
    return make_keys(tmp_path_factory.mktemp("ta-keys"))
