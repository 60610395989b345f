"""`parking worker` and the demo run the auto top-up worker: it rides in the invoice loop, and
asks the configured provider that pulls; the money comes only with the provider's webhook."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from billing.domain.decisions import PassageInput
from billing.domain.model import AutoTopUp
from billing.domain.tariffs import local_zone
from billing.services import (
    AutoTopUpWorker,
    get_account,
    seed_demo,
    set_auto_topup,
    settle_passage,
)
from billing.services.seed import CENTRAL_LOT
from einvoice.service import CycleReport
from gateway import migrate
from gateway.bootstrap import InvoiceLoop, build, build_auto_topups, build_invoice_services
from gateway.broker import free_port
from gateway.demo import simulated_payments
from gateway.settings import Settings

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=local_zone("Asia/Ho_Chi_Minh"))


class Idle:
    """An invoicing service with nothing to do."""

    def run_once(self) -> CycleReport:
        return CycleReport((), (), None)

    def close(self) -> None:
        return None


def test_the_invoice_loop_runs_the_auto_top_ups(tmp_path: Path) -> None:
    unconfigured = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'p.db'}")
    migrate.upgrade(unconfigured.effective_database_url, "billing@head")
    assert build_auto_topups(build(unconfigured)) is None  # parking serve: no provider, no pull
    port = free_port()
    # The merchant's webhook is down: the provider takes the request, and nothing is credited.
    payments, providers = simulated_payments(free_port(), port)
    settings = unconfigured.model_copy(update={"payment_providers": providers})
    payments.start()
    container = build(settings)
    try:
        uow = container.uow_factory()
        demo = seed_demo(uow)
        cuong = demo.accounts["cuong"]  # 10,000 VND
        set_auto_topup(uow, cuong, AutoTopUp(threshold_vnd=20_000, amount_vnd=100_000))
        entry_gate, exit_gate = demo.gates[CENTRAL_LOT]
        for event, gate, direction, minutes in (
            ("w-in", entry_gate, "entry", 0),
            ("w-out", exit_gate, "exit", 60),
        ):
            settle_passage(
                uow,
                PassageInput(
                    event,
                    CENTRAL_LOT,
                    gate,
                    direction,
                    T0 + timedelta(minutes=minutes),
                    "30G-999.99",
                ),
            )
        worker = build_auto_topups(container)
        assert worker is not None
        loop = InvoiceLoop(Idle(), auto_topups=worker)  # type: ignore[arg-type]
        loop.run_once()
        assert worker.run_once() == []  # the request was taken: nothing left to ask
        acct = get_account(uow, cuong)
        assert acct is not None and acct.balance_vnd == 10_000 - 25_000  # no webhook, no money
        with httpx.Client() as c:
            taken = c.get(f"http://127.0.0.1:{port}/api/momo/transactions").json()
        assert [(t["reference"], t["amount_vnd"]) for t in taken] == [("auto:w-out", 100_000)]
        invoicing = build_invoice_services(container)
        assert isinstance(invoicing.auto_topups, AutoTopUpWorker)
    finally:
        container.close()
        payments.stop()
