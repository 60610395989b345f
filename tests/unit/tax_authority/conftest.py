from __future__ import annotations

import pytest

from tests.unit.tax_authority.factory import KeySet, make_keys


@pytest.fixture(scope="session")
def keyset(tmp_path_factory: pytest.TempPathFactory) -> KeySet:
    return make_keys(tmp_path_factory.mktemp("ta-keys"))
