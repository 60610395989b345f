"""`parking db upgrade` on a fresh checkout: the data dir does not exist yet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from gateway.cli import app
from gateway.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture()
def fresh_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("PARKING_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the machine
    data_dir = tmp_path / "not" / "yet"
    monkeypatch.setenv("PARKING_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def test_db_upgrade_creates_the_data_dir_and_the_schema(fresh_data_dir: Path) -> None:
    assert not fresh_data_dir.exists()
    r = CliRunner().invoke(app, ["db", "upgrade", "billing@head"])
    assert r.exit_code == 0, r.output
    db = fresh_data_dir / "parking.db"
    assert db.is_file()
    engine = create_engine(f"sqlite:///{db.as_posix()}")
    try:
        assert "billing_journal_entries" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
