"""Listing commands: tables that fit an 80-column terminal, and --json for scripts."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from billing.adapters.uow import UnitOfWork
from billing.services.seed import CENTRAL_LOT
from gateway.cli import app
from gateway.cli.listing import Col, fitting
from tests.integration.billing.conftest import passage

pytestmark = pytest.mark.integration

LISTINGS = (
    ["accounts", "list"],
    ["vehicles", "list"],
    ["tariff", "list"],
    ["lots", "list"],
    ["passes", "list"],
    ["review", "list"],
    ["users", "list"],
    ["einvoice", "list"],
    ["lists", "list"],
)


def _queue(uow: UnitOfWork) -> list[int]:
    """Three passages waiting for an operator, with long reasons and both directions."""
    passage(uow, "in-1", "entry", "30A-123.45", 0)
    unread = passage(uow, "out-1", "exit", None, 61)
    ghost = passage(uow, "out-2", "exit", "29C-456.78", 70)  # exit without entry
    odd = passage(uow, "in-3", "entry", "30A-123.45", 80)  # entry while already inside
    return [d.passage_id for d in (unread, ghost, odd) if d.review]


def _run(cli: CliRunner, args: list[str], columns: int) -> str:
    r = cli.invoke(app, args, env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, r.output
    return r.output


def test_review_list_fits_80_columns(cli: CliRunner, uow: UnitOfWork) -> None:
    waiting = _queue(uow)
    assert len(waiting) >= 2
    out = _run(cli, ["review", "list"], 80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    for pid in waiting:  # one row per case, on one line each
        assert sum(1 for line in lines if re.match(rf"\s*{pid}\s+\d\d/\d\d ", line)) == 1, out
    assert "29C-456.78" in out and "exit_without_entry" in out
    assert "not shown at this width" in out  # and says what it left out
    wide = _run(cli, ["review", "list"], 200)
    assert "lot/gate" in wide and "not shown" not in wide


def test_every_listing_has_json(cli: CliRunner, uow: UnitOfWork) -> None:
    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0  # users and invoices too
    made = cli.invoke(app, ["users", "create", "thu.ha", "--role", "admin", "--password", "x" * 12])
    assert made.exit_code == 0, made.output
    _queue(uow)
    for args in LISTINGS:
        out = _run(cli, [*args, "--json"], 80)
        records = json.loads(out)
        assert isinstance(records, list), args
        if args[0] not in ("einvoice", "passes", "lists"):  # none sold, issued or listed here
            assert records, args
        assert all(isinstance(r, dict) for r in records), args
    accounts = json.loads(_run(cli, ["accounts", "list", "--json"], 80))
    first = accounts[0]
    assert isinstance(first["balance_vnd"], int) and isinstance(first["vehicles"], list)
    review = json.loads(_run(cli, ["review", "list", "--json"], 80))
    assert {"id", "lot_id", "gate_id", "captured_at", "reason"} <= set(review[0])
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", review[0]["captured_at"])
    lots = json.loads(_run(cli, ["lots", "list", "--json"], 80))
    assert {lot["id"] for lot in lots} >= {CENTRAL_LOT} and "parked" in lots[0]


def test_every_listing_fits_80_columns(cli: CliRunner, uow: UnitOfWork) -> None:
    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0
    _queue(uow)
    for args in LISTINGS:
        out = _run(cli, args, 80)
        assert max((len(line) for line in out.splitlines()), default=0) <= 80, (args, out)


def test_least_important_columns_go_first() -> None:
    cols = [Col("a", str, 0), Col("b", str, 2), Col("c", str, 1), Col("d", str, 2)]
    cells = [["x" * 30, "y" * 30, "z" * 10, "w" * 10]]
    assert fitting(cols, cells, 200) == [0, 1, 2, 3]
    assert fitting(cols, cells, 60) == [0, 2]  # d, then b (same priority: rightmost first)
    assert fitting(cols, cells, 10) == [0]  # never below the essential columns
