"""``parking lists``: add, list (table and --json), remove; what the gates then do."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from billing.adapters.uow import UnitOfWork
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from gateway.cli import app
from tests.integration.billing.conftest import passage

pytestmark = pytest.mark.integration


def _run(cli: CliRunner, args: list[str], code: int = 0) -> str:
    r = cli.invoke(app, args, env={"COLUMNS": "80"})
    assert r.exit_code == code, r.output
    return r.output


def test_lists_from_the_command_line(cli: CliRunner, uow: UnitOfWork) -> None:
    out = _run(
        cli,
        [
            "lists",
            "add",
            "30a12345",
            "--lot",
            CENTRAL_LOT,
            "--kind",
            "blacklist",
            "--actor",
            "op.lan",
            "--note",
            "reported stolen",
        ],
    )
    assert "30A-123.45 on the blacklist" in out
    _run(
        cli,
        ["lists", "add", "29C-456.78", "--lot", AIRPORT_LOT, "--kind", "vip", "--actor", "op.lan"],
    )
    refused = _run(
        cli,
        ["lists", "add", "30A-123.45", "--lot", CENTRAL_LOT, "--kind", "vip", "--actor", "op.lan"],
        code=1,
    )
    assert "already" in refused
    _run(
        cli,
        ["lists", "add", "30A-999.99", "--lot", CENTRAL_LOT, "--kind", "grey", "--actor", "op.lan"],
        code=1,
    )
    rows = json.loads(_run(cli, ["lists", "list", "--json"]))
    assert [(r["lot_id"], r["kind"], r["plate_text"]) for r in rows] == sorted(
        [(AIRPORT_LOT, "vip", "29C-456.78"), (CENTRAL_LOT, "blacklist", "30A-123.45")]
    )  # by lot
    only = json.loads(_run(cli, ["lists", "list", "--kind", "vip", "--json"]))
    assert [r["plate_text"] for r in only] == ["29C-456.78"]
    table = _run(cli, ["lists", "list"])
    assert max(len(line) for line in table.splitlines()) <= 80 and "30A-123.45" in table
    denied = passage(uow, "in-1", "entry", "30A-123.45", 0)  # the gate acts on it
    assert (denied.open, denied.reason) == (False, "listed_plate")
    blacklisted = next(r for r in rows if r["kind"] == "blacklist")
    assert "removed 30A-123.45" in _run(cli, ["lists", "remove", str(blacklisted["id"])])
    assert passage(uow, "in-2", "entry", "30A-123.45", 1).open
    _run(cli, ["lists", "remove", str(blacklisted["id"])], code=1)
