"""The operator commands, run against a real SQLite file like an operator would."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from billing.adapters.uow import UnitOfWork
from billing.services.seed import CENTRAL_LOT
from gateway.cli import app
from tests.integration.billing.conftest import passage

pytestmark = pytest.mark.integration
CAR = "30A-123.45"  # demo account 1


def test_account_vehicle_topup_and_reconcile_commands(cli: CliRunner) -> None:
    r = cli.invoke(app, ["accounts", "create", "--name", "Phạm Thu Hà"])
    assert r.exit_code == 0 and "account 5 created" in r.output
    r = cli.invoke(app, ["vehicles", "add", "5", "30H-555.66", "--class", "car_le9"])
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["vehicles", "add", "5", "30A-123.45"])  # belongs to account 1
    assert r.exit_code == 1 and "already belongs to account 1" in r.output
    credit = ["accounts", "credit", "5", "150000", "--reason", "barrier fault", "--actor", "op"]
    r = cli.invoke(app, [*credit, "--request-id", "C-1"])
    assert r.exit_code == 0 and "150.000đ" in r.output
    r = cli.invoke(app, [*credit, "--request-id", "C-1"])
    assert "credited before" in r.output
    r = cli.invoke(app, ["topup", "5", "150000", "--provider", "momo", "--txn-id", "MM-1"])
    assert r.exit_code == 2  # gone: only a provider's signed webhook tops up
    r = cli.invoke(app, ["accounts", "show", "5"])
    assert "30H-555.66" in r.output and "150.000đ" in r.output
    r = cli.invoke(app, ["accounts", "list", "--search", "30H555"])
    assert "Phạm Thu Hà" in r.output and "Nguyễn" not in r.output
    r = cli.invoke(app, ["reconcile", "--date", "2026-11-23"])
    assert r.exit_code == 0 and "all consistent" in r.output


def test_business_account_needs_a_tax_code(cli: CliRunner) -> None:
    r = cli.invoke(app, ["accounts", "create", "--name", "Công ty X", "--business"])
    assert r.exit_code == 1 and "tax code" in r.output


def test_tariff_and_lot_commands(cli: CliRunner) -> None:
    r = cli.invoke(
        app,
        ["tariff", "quote", "airport", "car_le9", "--minutes", "95", "--entry", "2026-11-23T09:00"],
    )
    assert r.exit_code == 0 and "25.000đ" in r.output
    r = cli.invoke(app, ["tariff", "list"])
    assert "hn-central" in r.output and "2025.1" in r.output and "2026.1" in r.output
    r = cli.invoke(
        app,
        ["lots", "policy", "hn-noibai-p1", "low_balance=overdraft", "overdraft_limit_vnd=20000"],
    )
    assert r.exit_code == 0 and '"overdraft_limit_vnd": 20000' in r.output
    r = cli.invoke(app, ["lots", "policy", "hn-noibai-p1", "low_balance=maybe"])
    assert r.exit_code == 1 and "not one of" in r.output
    r = cli.invoke(app, ["lots", "show", "hn-noibai-p1"])
    assert "hn-noibai-p1-out1" in r.output


def test_the_quote_shows_the_vat_rate_of_the_day_as_invoices_do(cli: CliRunner) -> None:
    """5,000 VND for a motorbike's hour: 370 VND of VAT at 8% in November 2026 (the invoice's
    figure), 455 VND at 10% from 2027; the quote used to say 455 in both."""
    for entry, vat in (("2026-11-23T09:00", "VAT 8%: 370đ"), ("2027-01-04T09:00", "VAT 10%: 455đ")):
        r = cli.invoke(app, ["tariff", "quote", "hn-central", "motorbike", "--entry", entry])
        assert r.exit_code == 0, r.output
        assert "5.000đ" in r.output and vat in r.output, r.output
    r = cli.invoke(app, ["tariff", "show", "hn-central", "--on", "2026-11-23"])
    assert r.exit_code == 0 and "VAT 8% included" in r.output and "174/2025" in r.output


def test_reconcile_exits_1_on_a_mismatch(cli: CliRunner, sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:  # a cached balance drifts from the journal
        conn.execute(text("UPDATE billing_accounts SET balance_vnd = balance_vnd + 7 WHERE id = 1"))
    engine.dispose()
    r = cli.invoke(app, ["reconcile", "--date", "2026-11-23"])
    assert r.exit_code == 1, r.output
    assert "balance" in r.output and "cached 500007 VND, journal 500000 VND" in r.output
    assert "all consistent" not in r.output
    assert "invoices not checked" in r.output  # only billing's tables exist here


def test_reconcile_checks_invoices_when_einvoice_is_there(cli: CliRunner, uow: UnitOfWork) -> None:
    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0  # every branch: invoice tables too
    passage(uow, "cli-in", "entry", CAR, 0)
    passage(uow, "cli-out", "exit", CAR, 61)
    r = cli.invoke(app, ["reconcile", "--date", "2026-11-23", "--lot", CENTRAL_LOT])
    assert r.exit_code == 1, r.output
    assert "invoice_missing" in r.output and "cli-out" in r.output  # no invoice issued yet
    assert "invoices not checked" not in r.output


def test_reconcile_reports_a_top_up_no_provider_webhook_reported(
    cli: CliRunner, uow: UnitOfWork
) -> None:
    """``parking reconcile`` ties every top-up to a verified webhook delivery: one written
    behind the webhook's back (here straight through billing) is reported, exit code 1."""
    from datetime import datetime

    from billing.services import credit_topup, open_topup_intent, top_up
    from billing.services.reads import LOCAL
    from gateway.orm import WebhookDelivery

    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0  # the gateway's tables too
    today = datetime.now(LOCAL).date().isoformat()
    intent = open_topup_intent(uow, 1, "momo", 100_000)
    credit_topup(uow, "momo", intent.reference, "MM-7", 100_000)
    with uow.session_factory() as s:  # what the verified webhook of that payment recorded
        s.add(
            WebhookDelivery(
                idempotency_key="d-1",
                body_sha256="0" * 64,
                status_code=200,
                response={},
                provider="momo",
                provider_txn_id="MM-7",
                reference=intent.reference,
                account_id=1,
                amount_vnd=100_000,
            )
        )
        s.commit()
    r = cli.invoke(app, ["reconcile", "--date", today])
    assert r.exit_code == 0 and "all consistent" in r.output, r.output
    assert "top-ups: 1 (100.000đ)" in r.output
    top_up(uow, 1, 30_000_000, "momo", "FORGED-1")
    r = cli.invoke(app, ["reconcile", "--date", today])
    assert r.exit_code == 1 and "topup_unverified" in r.output and "FORGED-1" in r.output


def test_reconcile_lists_the_offline_exposure_of_the_day(cli: CliRunner, uow: UnitOfWork) -> None:
    """An exit the lot's edge opened while the center was down, for a car whose balance no
    longer covers the fare: billing honours it, and reconciliation lists it per lot and day."""
    from datetime import timedelta

    from billing.domain.decisions import PassageInput, vnd
    from billing.domain.offline import OfflineGrant
    from billing.services import settle_passage
    from tests.integration.billing.conftest import EXIT
    from tests.unit.billing.conftest import T0

    cuong = "30G-999.99"  # 10,000 VND
    passage(uow, "off-in", "entry", cuong, 0)
    at = T0 + timedelta(minutes=180)
    grant = OfflineGrant(True, "credit_covers", at, credit_vnd=200_000, fare_vnd=100_000)
    d = settle_passage(
        uow, PassageInput("off-out", CENTRAL_LOT, EXIT, "exit", at, cuong, offline=grant)
    )
    assert d.open and d.balance_vnd is not None and d.balance_vnd < 0
    r = cli.invoke(app, ["reconcile", "--date", "2026-11-23", "--lot", CENTRAL_LOT])
    assert "offline decisions" in r.output, r.output
    section = r.output.split("offline decisions", 1)[1]
    exposure = -d.balance_vnd  # the fare less the 10,000 the account still had
    assert CENTRAL_LOT in section and vnd(exposure) in section
