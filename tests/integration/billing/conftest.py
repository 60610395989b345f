"""The operator commands run against a real SQLite file, like an operator would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.cli import billing as billing_cli
from gateway.settings import get_settings


@pytest.fixture()
def cli(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """``parking`` on a migrated SQLite file with the demo lots and accounts."""
    monkeypatch.setenv("PARKING_DATABASE_URL", sqlite_url)
    monkeypatch.setattr(billing_cli.console, "width", 200)  # tables uncut, as on a wide terminal
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "billing@head"]).exit_code == 0
    assert runner.invoke(app, ["lots", "seed-demo"]).exit_code == 0
    yield runner
    get_settings.cache_clear()
