"""Issuing benchmark: invoices taken from the outbox, numbered, built, signed and stored per second.

    .venv/bin/python bench/einvoice_issue.py                  # 300 invoices per run
    .venv/bin/python bench/einvoice_issue.py -n 1000 --json   # bench/results/einvoice_issue.json

Each run makes a fresh database (PostgreSQL from PARKING_TEST_PG_URL, or SQLite in a temp dir),
migrates billing + einvoice, queues ``n`` invoice requests in billing's outbox and lets 1, 2 or 4
worker threads drain it, each invoice in its own transaction (the gapless counter serializes the
part between taking a number and committing). Then the invoices are sent to the mock tax
authority (in process) one per message and in 206 batches. The machine's load average is
recorded: other work on the same cores lowers the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text, update  # noqa: E402

from billing.adapters import outbox  # noqa: E402
from billing.domain.events import InvoiceRequested  # noqa: E402
from einvoice.db import invoices  # noqa: E402
from einvoice.keys import ensure_demo_keys  # noqa: E402
from einvoice.maker import XmlInvoiceMaker  # noqa: E402
from einvoice.signing import Signer  # noqa: E402
from einvoice.worker import InvoiceWorker  # noqa: E402
from gateway import migrate  # noqa: E402
from gateway.db import make_engine, make_session_factory  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "einvoice_issue.json"
PG_ADMIN = os.environ.get(
    "PARKING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SELLER_MST = "0101234567"


def payload(i: int) -> dict[str, Any]:
    return {
        "event_id": f"ev-{i}",
        "journal_entry_id": i,
        "session_id": i,
        "lot_id": "lot-1",
        "lot_name": "Bãi xe Hàng Bài",
        "gate_id": "exit-1",
        "plate": f"30A-{i % 1000:03d}.{i % 100:02d}",
        "vehicle_class": "car",
        "entry_at": "2026-03-02T08:00:00+07:00",
        "exit_at": "2026-03-02T10:00:00+07:00",
        "fare_vnd": 5_000 + 1_000 * (i % 50),
        "seller": {
            "name": "Công ty TNHH Bãi Xe Phố Cổ",
            "tax_code": SELLER_MST,
            "address": "1 Hàng Bài, Hoàn Kiếm, Hà Nội",
            "invoice_template": "1",
            "invoice_series": "C26MPK",
            "invoice_mode": "cash_register",
            "cash_register_code": "41849",
        },
        "buyer": {"account_id": i % 97, "kind": "person", "name": "Nguyễn Văn An"},
    }


class Database:
    def __init__(self, backend: str, tmp: Path) -> None:
        self.backend = backend
        self.name = f"parking_bench_{uuid.uuid4().hex[:10]}"
        if backend == "postgresql":
            self.admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.name}"
        else:
            self.url = f"sqlite:///{(tmp / (self.name + '.db')).as_posix()}"
        migrate.upgrade(self.url, "billing@head")
        migrate.upgrade(self.url, "einvoice@head")
        self.engine = make_engine(self.url)
        self.sessions = make_session_factory(self.engine)

    def drop(self) -> None:
        self.engine.dispose()
        if self.backend == "postgresql":
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()


def issue_run(
    backend: str, n: int, workers: int, maker: XmlInvoiceMaker, tmp: Path
) -> dict[str, Any]:
    db = Database(backend, tmp)
    try:
        with db.sessions.begin() as s:
            for i in range(n):
                outbox.add(s, InvoiceRequested.from_payload(payload(i)))
        start = threading.Barrier(workers + 1)

        def run() -> None:
            worker = InvoiceWorker(db.sessions, maker, outbox=outbox)
            start.wait()
            while worker.run_once(max_rows=100):
                pass

        threads = [threading.Thread(target=run) for _ in range(workers)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        with db.sessions() as s:
            numbers = sorted(s.execute(select(invoices.c.number)).scalars())
        assert numbers == list(range(1, n + 1)), "numbers are not 1..n"
        row = {
            "backend": backend,
            "workers": workers,
            "invoices": n,
            "seconds": round(elapsed, 3),
            "per_second": round(n / elapsed, 1),
        }
        if workers == 1:
            row.update(submit_runs(db, n))
        return row
    finally:
        db.drop()


def submit_runs(db: Database, n: int) -> dict[str, Any]:
    """Send the n invoices to the in-process mock: one per message, then as 206 batches."""
    from fastapi.testclient import TestClient

    from einvoice.client import TaxAuthorityClient
    from einvoice.submitter import Submitter
    from simulator.tax_authority.app import create_app
    from simulator.tax_authority.settings import TaxAuthoritySettings

    out: dict[str, Any] = {}
    for label, batch in (("single", 1), ("batch100", 100)):
        with tempfile.TemporaryDirectory() as tmp:
            keys = ensure_demo_keys(Path(tmp) / "keys", SELLER_MST)
            settings = TaxAuthoritySettings(
                data_dir=Path(tmp),
                database_url=f"sqlite:///{tmp}/ta.db",
                pkcs12=keys.authority_pkcs12,
                pkcs12_password=keys.password,
                seed_demo_seller=True,
                demo_seller_tax_code=SELLER_MST,
                demo_seller_cash_register_code="41849",
                max_invoice_age_days=100000,
            )
            with db.sessions.begin() as s:  # back to unsent for the second run
                s.execute(update(invoices).values(status="signed", message_id=None))
            with TestClient(create_app(settings)) as http:
                submitter = Submitter(
                    db.sessions,
                    TaxAuthorityClient("http://testserver", http=http),
                    batch_size=batch,
                )
                t0 = time.perf_counter()
                if batch == 1:
                    with db.sessions() as s:
                        ids = s.execute(select(invoices.c.id)).scalars().all()
                    for invoice_id in ids:
                        submitter.submit_due(invoice_ids=[invoice_id])
                else:
                    submitter.submit_due(force=True, limit=n)
                elapsed = time.perf_counter() - t0
            with db.sessions() as s:
                accepted = s.execute(
                    select(func.count())
                    .select_from(invoices)
                    .where(invoices.c.status == "accepted")
                ).scalar_one()
        out[f"submit_{label}_per_second"] = round(n / elapsed, 1)
        out[f"submit_{label}_accepted"] = accepted
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=300, help="invoices per run")
    parser.add_argument("--workers", default="1,2,4", help="worker thread counts")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--json", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        keys = ensure_demo_keys(Path(tmp) / "keys", SELLER_MST)
        maker = XmlInvoiceMaker(Signer.from_pkcs12(keys.seller_pkcs12, keys.password))
        for backend in args.backends.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                rows.append(issue_run(backend, args.n, workers, maker, Path(tmp)))
    print(
        f"{'backend':<11} {'workers':>7} {'invoices':>8} {'seconds':>8} {'issued/s':>9}  submit/s"
    )
    for r in rows:
        submit = ""
        if "submit_single_per_second" in r:
            submit = (
                f"{r['submit_single_per_second']} one per message, "
                f"{r['submit_batch100_per_second']} in 206 batches of 100"
            )
        print(
            f"{r['backend']:<11} {r['workers']:>7} {r['invoices']:>8} {r['seconds']:>8} "
            f"{r['per_second']:>9}  {submit}"
        )
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    if args.json:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {
                    "bench": "einvoice_issue",
                    "machine": platform.platform(),
                    "cpus": os.cpu_count(),
                    "load_average": load,
                    "runs": rows,
                },
                indent=2,
            )
        )
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
