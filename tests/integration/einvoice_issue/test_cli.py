"""``parking einvoice issue/list/show/adjust/submit`` on a SQLite database made by migrations."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from billing.adapters import outbox
from einvoice.db import invoices
from gateway import migrate
from gateway.cli import app
from gateway.db import make_engine, make_session_factory
from tests.integration.einvoice_issue.conftest import make_authority
from tests.unit.einvoice_issue.fakes import invoice_request

pytestmark = pytest.mark.integration


def test_issue_list_show_adjust_and_submit_from_the_command_line(
    tmp_path: Path, demo_keys: Any, serve: Any
) -> None:
    url = f"sqlite:///{(tmp_path / 'parking.db').as_posix()}"
    migrate.upgrade(url, "billing@head")
    migrate.upgrade(url, "einvoice@head")
    engine = create_engine(url)
    sessions = sessionmaker(bind=engine)
    with sessions.begin() as s:
        outbox.add(s, invoice_request("ev-1"))
    env = {"PARKING_DATABASE_URL": url, "PARKING_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    runner = CliRunner()

    result = runner.invoke(app, ["einvoice", "issue", "--no-send"], env=env)
    assert result.exit_code == 0, result.output
    assert "issued 1, corrections 0, failed 0" in result.output

    result = runner.invoke(app, ["einvoice", "list"], env=env)
    yy = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).year % 100
    assert result.exit_code == 0 and f"1C{yy:02d}MPK-00000001" in result.output

    with sessions() as s:
        invoice_id = s.execute(select(invoices.c.id)).scalar_one()
    for fmt in ("xml", "html", "pdf"):
        out = tmp_path / f"invoice.{fmt}"
        result = runner.invoke(
            app, ["einvoice", "show", str(invoice_id), "--format", fmt, "--out", str(out)], env=env
        )
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 500
    assert (tmp_path / "invoice.pdf").read_bytes().startswith(b"%PDF")
    # The demo key signed it: the project's own verifier command accepts the file.
    result = runner.invoke(app, ["einvoice", "verify", str(tmp_path / "invoice.xml")])
    assert result.exit_code == 0, result.output

    result = runner.invoke(
        app,
        [
            "einvoice",
            "adjust",
            "--event",
            "ev-1",
            "--amount",
            "-5000",
            "--reason",
            "Hoàn tiền",
            "--key",
            "refund-1",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "einvoice",
            "adjust",
            "--event",
            "ev-404",
            "--amount",
            "-5000",
            "--reason",
            "x",
            "--key",
            "refund-2",
        ],
        env=env,
    )
    assert result.exit_code == 1 and "no invoice yet" in result.output

    # The demo keys under data_dir/keys are the authority's too (one demo CA).
    running = serve(make_authority(tmp_path, _keys_in(tmp_path / "var" / "keys")))
    result = runner.invoke(app, ["einvoice", "submit", "--authority-url", running.url], env=env)
    assert result.exit_code == 0, result.output
    assert "accepted 2, rejected 0, pending 0" in result.output
    engine.dispose()


def _keys_in(directory: Path) -> Any:
    from einvoice.keys import ensure_demo_keys

    return ensure_demo_keys(directory, "0101234567")


def test_issue_waits_for_the_services_writer_on_sqlite(tmp_path: Path) -> None:
    """``parking einvoice issue`` beside a running service on the default SQLite database: while
    another process's transaction holds the write lock, the command waits for it (the engine of
    ``gateway.db.make_engine``: BEGIN IMMEDIATE, 30 s busy timeout), as the service's own workers
    do. Its own engine gave up after SQLite's default 5 s ("database is locked")."""
    url = f"sqlite:///{(tmp_path / 'parking.db').as_posix()}"
    migrate.upgrade(url, "billing@head")
    migrate.upgrade(url, "einvoice@head")
    service = make_engine(url)  # stands in for `parking worker` / `parking serve`
    with make_session_factory(service).begin() as s:
        outbox.add(s, invoice_request("ev-1"))
    command_started = threading.Event()

    def first_statement(conn: Any, *_: Any) -> None:
        if conn.engine is not service:
            command_started.set()

    def hold_the_write_lock() -> None:
        with service.begin() as conn:  # BEGIN IMMEDIATE: the write lock ...
            outbox.add(conn, invoice_request("ev-2"))
            command_started.wait(60)
            time.sleep(6.5)  # ... held past SQLite's default 5 s from the command's start

    event.listen(Engine, "before_cursor_execute", first_statement)
    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        env = {"PARKING_DATABASE_URL": url, "PARKING_DATA_DIR": str(tmp_path / "var")}
        result = CliRunner().invoke(app, ["einvoice", "issue", "--no-send"], env=env)
    finally:
        holder.join(90)
        event.remove(Engine, "before_cursor_execute", first_statement)
        service.dispose()
    assert command_started.is_set()
    assert result.exit_code == 0, result.output
    assert "failed 0" in result.output


def test_einvoice_month_issues_the_consolidated_invoices_of_an_ended_month(
    tmp_path: Path, demo_keys: Any
) -> None:
    """``parking einvoice month``: a monthly account's waiting passages (the worker keeps them,
    test_monthly.py) go on one invoice; a month that has not ended is refused with exit code 2."""
    import json

    from billing.domain.events import InvoiceRequested
    from einvoice.monthly import defer
    from tests.unit.einvoice_issue.fakes import request_payload

    url = f"sqlite:///{(tmp_path / 'parking.db').as_posix()}"
    migrate.upgrade(url, "billing@head")
    migrate.upgrade(url, "einvoice@head")
    engine = create_engine(url)
    sessions = sessionmaker(bind=engine)
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    last = (now.replace(day=1) - timedelta(days=1)).replace(hour=10, minute=0)
    with sessions.begin() as s:
        for n, fare in enumerate((30_000, 45_000), start=1):
            payload = request_payload(f"ev-m{n}", fare)
            payload["entry_at"] = (last - timedelta(hours=2, days=n)).isoformat()
            payload["exit_at"] = (last - timedelta(days=n)).isoformat()
            payload["buyer"] = {
                "account_id": 9,
                "kind": "business",
                "name": "Công ty Cổ phần Minh Long",
                "tax_code": "0109998887",
                "address": "5 Tràng Tiền, Hà Nội",
                "monthly": True,
            }
            defer(s, f"ev-m{n}", InvoiceRequested.from_payload(payload), now)
    env = {"PARKING_DATABASE_URL": url, "PARKING_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "80"}
    runner = CliRunner()
    this_month = f"{now.year:04d}-{now.month:02d}"
    result = runner.invoke(app, ["einvoice", "month", "--month", this_month], env=env)
    assert result.exit_code == 2 and "has not ended" in result.output
    result = runner.invoke(app, ["einvoice", "month", "--json"], env=env)
    assert result.exit_code == 0, result.output
    [issued] = json.loads(result.output)
    assert (issued["account_id"], issued["passages"], issued["total_vnd"]) == ("9", 2, 75_000)
    with sessions() as s:
        row = s.execute(select(invoices)).one()
        assert row.buyer_tax_code == "0109998887" and row.total_vnd == 75_000
    result = runner.invoke(app, ["einvoice", "month"], env=env)  # nothing left waiting
    assert result.exit_code == 0 and "issued 0 monthly invoices" in result.output
    engine.dispose()
