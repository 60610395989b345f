"""A worker process killed mid-transaction (number taken, invoice not stored) loses nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.adapters import outbox
from einvoice.db import invoices
from einvoice.worker import InvoiceWorker
from tests.unit.einvoice_issue.fakes import FakeMaker, invoice_request

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]

# Issues invoices until the 8th, then SIGKILLs itself inside the maker: after the number and
# the MCCQT were taken, before the invoice row and the commit.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from gateway.db import make_engine, make_session_factory
    from billing.adapters import outbox
    from einvoice.worker import InvoiceWorker
    from tests.unit.einvoice_issue.fakes import FakeMaker

    class Dying(FakeMaker):
        def __call__(self, payload, identity):
            if self.calls == 7:
                os.kill(os.getpid(), signal.SIGKILL)
            return super().__call__(payload, identity)

    factory = make_session_factory(make_engine(sys.argv[1]))
    InvoiceWorker(factory, Dying(), outbox=outbox).run_once()
    """
)


def test_killed_worker_leaves_no_gap_and_no_lost_request(
    pg_url: str, pg_sessions: sessionmaker[Session]
) -> None:
    with pg_sessions.begin() as s:
        for i in range(20):
            outbox.add(s, invoice_request(f"ev-{i}"))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, pg_url], cwd=ROOT, capture_output=True, timeout=120
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    with pg_sessions() as s:
        assert s.execute(select(func.count()).select_from(invoices)).scalar_one() == 7
    # A restarted worker carries on: the number the dead one had taken is given again.
    InvoiceWorker(pg_sessions, FakeMaker(), outbox=outbox).run_once()
    with pg_sessions() as s:
        rows = s.execute(select(invoices.c.event_id, invoices.c.number)).all()
        assert outbox.pending(s, "invoice_request") == 0
    assert sorted(r.number for r in rows) == list(range(1, 21))
    assert sorted(r.event_id for r in rows) == sorted(f"ev-{i}" for i in range(20))
