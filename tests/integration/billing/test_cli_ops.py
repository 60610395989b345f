"""Operator commands: account settings, vehicles, tariffs, lots, passes, refunds, review queue."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from billing.adapters.uow import UnitOfWork
from billing.services.seed import CENTRAL_LOT
from gateway.cli import app
from tests.integration.billing.conftest import passage

pytestmark = pytest.mark.integration


def ok(cli: CliRunner, *args: str) -> str:
    r = cli.invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r.output


def fails(cli: CliRunner, *args: str) -> str:
    r = cli.invoke(app, list(args))
    assert r.exit_code == 1, r.output
    return r.output


def test_account_status_auto_topup_and_notice(cli: CliRunner) -> None:
    assert "account 1 is suspended" in ok(cli, "accounts", "status", "1", "suspended")
    assert "(person, suspended)" in ok(cli, "accounts", "show", "1")
    assert "error" in fails(cli, "accounts", "status", "1", "asleep")
    ok(cli, "accounts", "status", "1", "active")
    out = ok(cli, "accounts", "auto-topup", "1", "--threshold", "20000", "--amount", "100000")
    assert "auto top-up 100.000đ below 20.000đ" in out
    assert "top up 100.000đ below 20.000đ" in ok(cli, "accounts", "show", "1")
    assert "give --threshold and --amount" in fails(
        cli, "accounts", "auto-topup", "1", "--amount", "5"
    )
    assert "auto top-up off" in ok(cli, "accounts", "auto-topup", "1", "--off")
    assert "auto top-up: off" in ok(cli, "accounts", "show", "1")
    assert "low-balance notice below 30.000đ" in ok(cli, "accounts", "notice", "1", "30000")
    assert "notice below 30.000đ" in ok(cli, "accounts", "show", "1")
    assert "cannot be negative" in fails(cli, "accounts", "notice", "1", "--", "-1")


def test_vehicles_list_and_remove(cli: CliRunner) -> None:
    out = ok(cli, "vehicles", "list", "--account", "1")
    assert "30A-123.45" in out and "29-B1 678.90" in out and "30G-999.99" not in out
    listed = json.loads(ok(cli, "vehicles", "list", "--account", "1", "--json"))
    (vehicle,) = [str(v["id"]) for v in listed if v["plate"] == "30A-123.45"]
    assert f"vehicle {vehicle} removed" in ok(cli, "vehicles", "remove", vehicle)
    assert "30A-123.45" not in ok(cli, "vehicles", "list", "--account", "1")
    assert "30A-123.45" in ok(cli, "vehicles", "list", "--account", "1", "--all")
    assert "no vehicle 999" in fails(cli, "vehicles", "remove", "999")


def test_tariff_show_and_lot_set_tariff(cli: CliRunner) -> None:
    out = ok(cli, "tariff", "show", "hn-central", "--on", "2026-11-23")
    assert "hn-central@2026" in out and "car_le9" in out and "motorbike" in out
    assert re.search(r"day_night pass [\d.]+đ/month", out)
    assert "now uses airport" in ok(cli, "lots", "set-tariff", CENTRAL_LOT, "airport")
    lots = {lot["id"]: lot for lot in json.loads(ok(cli, "lots", "list", "--json"))}
    assert lots[CENTRAL_LOT]["tariff_id"] == "airport"
    assert "no tariff" in fails(cli, "lots", "set-tariff", CENTRAL_LOT, "moon")


def test_sell_list_and_refund_a_pass(cli: CliRunner) -> None:
    sell = ["passes", "sell", "5", "--lot", CENTRAL_LOT, "--kind", "day_night"]
    sell += ["--start", "2026-11-01", "--request-id", "S-1"]
    out = ok(cli, *sell)
    assert "30E-246.80 day_night" in out and "2026-11-30" in out and "4.000.000đ" in out
    assert ok(cli, *sell).split(":")[0] == out.split(":")[0]  # the same pass, sold once
    listing = ok(cli, "passes", "list", "--account", "3", "--valid-on", "2026-11-15", "--json")
    (sold,) = [p for p in json.loads(listing) if p["plate"] == "30E-246.80"]
    entry = str(sold["journal_entry_id"])
    assert "balance 1.000.000đ" in ok(cli, "accounts", "show", "3")
    refund = ["refund", entry, "--request-id", "R-1", "--reason", "sold twice", "--actor", "op"]
    out = ok(cli, *refund, "--amount", "1000000")
    assert "refunded 1.000.000đ" in out and "balance 2.000.000đ" in out
    assert "refunded before" in ok(cli, *refund, "--amount", "1000000")
    out = ok(cli, "refund", entry, "--request-id", "R-2", "--reason", "rest", "--actor", "op")
    assert "refunded 3.000.000đ" in out and "balance 5.000.000đ" in out
    assert "exceed" in fails(
        cli, "refund", entry, "--request-id", "R-3", "--reason", "x", "--actor", "op"
    )
    r = cli.invoke(app, ["refund", entry, "--reason", "no id", "--actor", "op"])
    assert r.exit_code == 2  # the request id is required
    assert "sells no night pass" in fails(cli, *sell[:6], "night", *sell[7:-1], "S-2")


def test_review_queue_correct_charge_and_waive(cli: CliRunner, uow: UnitOfWork) -> None:
    ok(cli, "lots", "policy", CENTRAL_LOT, "low_balance=deny")  # before the lot is cached
    passage(uow, "in-1", "entry", "30A-123.45", 0)
    unread = passage(uow, "out-1", "exit", None, 61)
    passage(uow, "in-2", "entry", "30G-999.99", 0)
    held = passage(uow, "out-2", "exit", "30G-999.99", 30)
    assert (unread.reason, held.reason) == ("plate_unreadable", "low_balance")
    out = ok(cli, "review", "list", "--lot", CENTRAL_LOT)
    assert "plate_unreadable" in out and "low_balance" in out
    out = ok(
        cli, "review", "correct-plate", str(unread.passage_id), "30a12345", "--actor", "op.lan"
    )
    assert f"passage {unread.passage_id} is 30a12345, session" in out
    assert "charged" in ok(cli, "review", "charge", str(unread.passage_id), "--actor", "op.lan")
    assert "charged already" in fails(
        cli, "review", "charge", str(unread.passage_id), "--actor", "x"
    )
    waive = ["review", "waive", str(held.passage_id), "--actor", "op.lan"]
    assert "waived" in ok(cli, *waive, "--reason", "let out by hand")
    out = ok(cli, "review", "list")
    assert "plate_unreadable" not in out and "low_balance" not in out
    assert "450.000đ" in ok(cli, "accounts", "show", "1")  # 500,000 - 50,000
    assert "say why" in fails(cli, *waive, "--reason", " ")
