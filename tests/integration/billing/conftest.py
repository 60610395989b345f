"""The operator commands run against a real SQLite file, like an operator would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import GateDecision, PassageInput
from billing.services.seed import CENTRAL_LOT
from billing.services.settle import settle_passage
from gateway.cli import app
from gateway.cli import billing as billing_cli
from gateway.db import make_engine, make_session_factory
from gateway.settings import get_settings
from tests.unit.billing.conftest import T0

ENTRY, EXIT = f"{CENTRAL_LOT}-in1", f"{CENTRAL_LOT}-out1"


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


@pytest.fixture()
def uow(cli: CliRunner, sqlite_url: str) -> Iterator[UnitOfWork]:
    """The billing services on the file the commands use (to drive passages)."""
    engine = make_engine(sqlite_url)
    yield UnitOfWork(make_session_factory(engine))
    engine.dispose()


def passage(
    uow: UnitOfWork, event: str, direction: str, plate: str | None, minutes: float
) -> GateDecision:
    """A passage at the demo central lot, ``minutes`` after 23/11/2026 09:00 local."""
    gate = ENTRY if direction == "entry" else EXIT
    at = T0 + timedelta(minutes=minutes)
    return settle_passage(uow, PassageInput(event, CENTRAL_LOT, gate, direction, at, plate))
