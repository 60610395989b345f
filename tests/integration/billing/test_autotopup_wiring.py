"""`parking worker` and the demo run the auto top-up worker: it rides in the invoice loop."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

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
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'p.db'}")
    migrate.upgrade(settings.effective_database_url, "billing@head")
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
        loop = InvoiceLoop(Idle(), auto_topups=build_auto_topups(container))  # type: ignore[arg-type]
        loop.run_once()
        acct = get_account(uow, cuong)
        assert acct is not None and acct.balance_vnd == 10_000 - 25_000 + 100_000
        invoicing = build_invoice_services(container)
        assert isinstance(invoicing.auto_topups, AutoTopUpWorker)
    finally:
        container.close()
