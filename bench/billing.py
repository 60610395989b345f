"""Settled exits per second: entry + exit + pricing + ledger + outbox, through settle_passage.

Runs on SQLite (a temporary file) and on PostgreSQL (a throw-away database), with 1 and 2
worker processes, and prints a table; ``--json`` also writes bench/results/billing.json.

On PostgreSQL it also runs the raw-SQL ceiling (bench/billing_raw.py: the minimal statements of
an entry and an exit on the same schema, through psycopg with no ORM, same workers and
vehicles) right after each case, and prints settlement's ratio to it.

    .venv/bin/python bench/billing.py                  # both backends, 1 and 2 workers
    .venv/bin/python bench/billing.py --exits 2000 --backends postgresql --json

Each settled exit is two calls of ``settle_passage`` (the entry that opens the session and the
exit that prices it, debits the prepaid balance, posts the journal entry and queues the barrier
command and the invoice request), each its own transaction. Vehicles belong to many accounts,
as in real traffic; workers take disjoint vehicles.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, event, func, select, text  # noqa: E402

from bench import billing_raw  # noqa: E402
from bench.cpu_use import process_cpu  # noqa: E402
from billing.adapters import orm  # noqa: E402
from billing.adapters.uow import UnitOfWork  # noqa: E402
from billing.domain.decisions import PassageInput  # noqa: E402
from billing.domain.model import Owner, OwnerKind  # noqa: E402
from billing.domain.plates import canonical_plate, plate_key  # noqa: E402
from billing.domain.tariffs import local_zone  # noqa: E402
from billing.services import add_vehicle, create_account, seed_demo, settle_passage, top_up  # noqa: E402
from billing.services.ledger import check_balances  # noqa: E402
from billing.services.seed import CENTRAL_LOT  # noqa: E402
from gateway import migrate  # noqa: E402
from gateway.db import make_engine, make_session_factory  # noqa: E402

PG_ADMIN = os.environ.get(
    "PARKING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
HN = local_zone("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 23, 6, 0, tzinfo=HN)


@dataclass(frozen=True)
class Result:
    backend: str
    path: str  # "settle_passage" or "raw-sql" (the ceiling, bench/billing_raw.py)
    durability: str  # "durable" (the default) or "async-commit" (PostgreSQL, for comparison)
    workers: int
    exits: int
    seconds: float
    exits_per_s: float
    ms_per_exit_per_worker: float
    worker_cpu_ms_per_exit: float  # CPU time of the worker process itself
    db_cpu_ms_per_exit: float  # CPU time of its PostgreSQL backends (SQLite runs in the worker)
    # 2 cores / (worker + database CPU per exit): what this code would reach on an idle machine
    # of this kind. An estimate, not a measurement: it ignores fsync waits and lock waits.
    cpu_bound_estimate_exits_per_s: float
    one_debit_per_exit: bool
    balances_match_journal: bool
    load_avg_1m: float  # the machine is shared: what else was running shows here


def plate(n: int) -> str:
    return f"3{n // 100000 % 10}A-{n // 100 % 1000:03d}.{n % 100:02d}"


def prepare(url: str, vehicles: int) -> None:
    migrate.upgrade(url, "billing@head")
    engine = make_engine(url)
    uow = UnitOfWork(make_session_factory(engine))
    seed_demo(uow)
    for n in range(vehicles):
        acct = create_account(uow, Owner(OwnerKind.PERSON, f"Bench {n}"))
        add_vehicle(uow, acct, plate(10_000 + n), "car_le9")
        top_up(uow, acct, 1_000_000_000, "bench-bank", f"bench-{n}")
    engine.dispose()


def engine_for(url: str, durability: str) -> Engine:
    if durability == "async-commit":
        # PostgreSQL acknowledges a commit before its WAL reaches the disk: a crash may lose the
        # last fraction of a second of commits (never corrupts). Measured for comparison only.
        return make_engine(url, connect_args={"options": "-c synchronous_commit=off"})
    return make_engine(url)


def worker(
    url: str,
    path: str,
    durability: str,
    index: int,
    workers: int,
    vehicles: int,
    exits: int,
    run: str,
    start: mp.synchronize.Event,
    out: mp.Queue,
) -> None:
    engine = engine_for(url, durability)
    backend_pids: set[int] = set()
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _remember_pid(dbapi_conn: Any, _record: Any) -> None:
            backend_pids.add(dbapi_conn.info.backend_pid)

    uow = UnitOfWork(make_session_factory(engine))
    mine = [plate(10_000 + n) for n in range(index, vehicles, workers)]
    entry_gate, exit_gate = f"{CENTRAL_LOT}-in1", f"{CENTRAL_LOT}-out1"
    raw, raw_conn = (
        billing_raw.passage_runner(url, CENTRAL_LOT, entry_gate, exit_gate)
        if path == "raw-sql"
        else (None, None)
    )
    if raw_conn is not None:
        backend_pids.add(raw_conn.info.backend_pid)

    def one(i: int, tag: str) -> None:
        p = mine[i % len(mine)]
        lap = i // len(mine)
        # warm-up passages happen a month earlier: never duplicates of the timed ones
        t = T0 + timedelta(hours=2 * lap, seconds=i) - timedelta(days=30 if tag == "warm" else 0)
        for direction, gate, at in (
            ("entry", entry_gate, t),
            ("exit", exit_gate, t + timedelta(minutes=61)),
        ):
            if raw is not None:
                canon = canonical_plate(p) or p
                raw(direction, f"{run}-{tag}-{index}-{i}-{direction}", at, canon, plate_key(canon))
                continue
            d = settle_passage(
                uow,
                PassageInput(
                    f"{run}-{tag}-{index}-{i}-{direction}",
                    CENTRAL_LOT,
                    gate,
                    direction,
                    at,
                    p,
                    0.97,
                ),
            )
            if not d.open:
                raise RuntimeError(f"bench passage refused: {d}")

    for i in range(min(20, exits)):  # warm-up: connections, caches, statement preparation
        one(i, "warm")
    start.wait()
    t0 = time.perf_counter()
    c0 = time.process_time()
    db0 = process_cpu(backend_pids)
    began = time.time()
    for i in range(exits):
        one(i, "run")
    cpu = time.process_time() - c0
    db_cpu = process_cpu(backend_pids) - db0
    out.put((index, began, time.time(), time.perf_counter() - t0, cpu, db_cpu))
    engine.dispose()
    if raw_conn is not None:
        raw_conn.close()


def run_case(
    backend: str, path: str, durability: str, url: str, workers: int, exits: int, vehicles: int
) -> Result:
    run = uuid.uuid4().hex[:8]
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=worker,
            args=(url, path, durability, i, workers, vehicles, exits, run, start, out),
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    reports = [out.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"a worker failed (exit code {p.exitcode})")
    seconds = max(r[2] for r in reports) - min(r[1] for r in reports)
    total = exits * workers
    engine = make_engine(url)
    uow = UnitOfWork(make_session_factory(engine))
    with uow:
        s = uow.session
        debits = s.scalar(
            select(func.count())
            .select_from(orm.JournalEntry)
            .where(orm.JournalEntry.kind == "fare", orm.JournalEntry.event_id.like(f"{run}-run-%"))
        )
        exits_done = s.scalar(
            select(func.count())
            .select_from(orm.Passage)
            .where(
                orm.Passage.event_id.like(f"{run}-run-%-exit"), orm.Passage.reason == "exit_paid"
            )
        )
        balanced = check_balances(s) == []
    engine.dispose()
    per_worker = sum(r[3] for r in reports) / len(reports)
    cpu = sum(r[4] for r in reports) / len(reports)
    db_cpu = sum(r[5] for r in reports) / len(reports)
    cost_ms = (cpu + db_cpu) / exits * 1000
    return Result(
        backend,
        path,
        durability,
        workers,
        total,
        round(seconds, 3),
        round(total / seconds, 1),
        round(per_worker / exits * 1000, 3),
        round(cpu / exits * 1000, 3),
        round(db_cpu / exits * 1000, 3),
        round(2000 / cost_ms, 1) if cost_ms else 0.0,
        debits == exits_done == total,
        balanced,
        round(os.getloadavg()[0], 2),
    )


def ceiling_ratios(results: list[Result]) -> dict[str, float]:
    """settle_passage's exits/s over the raw-SQL ceiling's, per durability and worker count:
    the median over the rounds, each round's settle_passage run paired with its ceiling run."""
    runs: dict[tuple[str, int, str], list[Result]] = {}
    for r in results:
        if r.backend == "postgresql":
            runs.setdefault((r.durability, r.workers, r.path), []).append(r)
    ratios = {}
    for (durability, workers, path), ours in runs.items():
        raw = runs.get((durability, workers, "raw-sql"))
        if path == "settle_passage" and raw:
            pairs = list(zip(ours, raw, strict=False))
            wall = [a.exits_per_s / b.exits_per_s for a, b in pairs]
            ratios[f"{durability}, {workers} workers"] = round(statistics.median(wall), 3)
            # on a loaded machine the wall clock measures the other processes: the ratio of
            # CPU per exit (worker + database) is the steadier figure
            cpu = [
                a.cpu_bound_estimate_exits_per_s / b.cpu_bound_estimate_exits_per_s
                for a, b in pairs
            ]
            ratios[f"{durability}, {workers} workers, by CPU per exit"] = round(
                statistics.median(cpu), 3
            )
    return ratios


def pg_database() -> tuple[str, str]:
    name = f"parking_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def drop_pg(name: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--exits", type=int, default=1000, help="settled exits per worker")
    ap.add_argument("--vehicles", type=int, default=200, help="vehicles (one account each)")
    ap.add_argument(
        "--pg-async-commit",
        action="store_true",
        help="also measure PostgreSQL with synchronous_commit=off (shows what fsync costs)",
    )
    ap.add_argument(
        "--rounds", type=int, default=3, help="pairs of settle_passage and ceiling runs"
    )
    ap.add_argument(
        "--no-ceiling", action="store_true", help="skip the raw-SQL ceiling on PostgreSQL"
    )
    ap.add_argument("--json", action="store_true", help="write bench/results/billing.json")
    args = ap.parse_args()
    results: list[Result] = []
    cases = [(b, "durable") for b in args.backends.split(",")]
    if args.pg_async_commit and "postgresql" in args.backends:
        cases.append(("postgresql", "async-commit"))
    for backend, durability in cases:
        for workers in (int(w) for w in args.workers.split(",")):
            paths = ["settle_passage"]
            if backend == "postgresql" and not args.no_ceiling:
                paths.append("raw-sql")
            # alternating rounds: each pair of settle_passage and the ceiling sees one moment of
            # the shared machine; the ratio is the median of the pairs' ratios
            rounds = args.rounds if len(paths) > 1 else 1
            for path in [p for r in range(rounds) for p in (paths if r % 2 == 0 else paths[::-1])]:
                if backend == "sqlite":
                    tmp = tempfile.mkdtemp(prefix="parking-bench-")
                    url, cleanup = f"sqlite:///{tmp}/bench.db", None
                else:
                    url, cleanup = pg_database()
                try:
                    prepare(url, args.vehicles)
                    results.append(
                        run_case(backend, path, durability, url, workers, args.exits, args.vehicles)
                    )
                    print(results[-1], flush=True)
                finally:
                    if cleanup:
                        drop_pg(cleanup)
    print()
    print(
        f"{'backend':<11} {'path':<15} {'durability':<13} {'workers':>7} {'exits':>7} "
        f"{'seconds':>8} {'exits/s':>8} "
        f"{'ms/exit/worker':>15} {'cpu ms/exit':>12} {'db cpu ms':>10} {'cpu-bound/s':>12} "
        f"{'one debit each':>15} {'balances ok':>12} {'load':>5}"
    )
    for r in results:
        print(
            f"{r.backend:<11} {r.path:<15} {r.durability:<13} {r.workers:>7} {r.exits:>7} "
            f"{r.seconds:>8.2f} {r.exits_per_s:>8.1f} "
            f"{r.ms_per_exit_per_worker:>15.2f} {r.worker_cpu_ms_per_exit:>12.2f} "
            f"{r.db_cpu_ms_per_exit:>10.2f} {r.cpu_bound_estimate_exits_per_s:>12.1f} "
            f"{r.one_debit_per_exit!s:>15} "
            f"{r.balances_match_journal!s:>12} {r.load_avg_1m:>5.1f}"
        )
    ratios = ceiling_ratios(results)
    for key, ratio in ratios.items():
        print(f"settle_passage / raw-sql ceiling, {key}: {ratio:.3f}")
    if args.json:
        out_path = ROOT / "bench" / "results" / "billing.json"
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(
            json.dumps(
                {
                    "benchmark": "billing settled exits per second (entry + exit + pricing + "
                    "ledger + outbox, one transaction each)",
                    "load_average_at_end": os.getloadavg(),
                    "machine": {
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                        "platform": platform.platform(),
                    },
                    "goal_postgresql_exits_per_s": 500,
                    "goal_ratio_to_raw_sql_ceiling": 0.6,
                    "ratio_to_raw_sql_ceiling": ratios,
                    "results": [asdict(r) for r in results],
                },
                indent=2,
            )
            + "\n"
        )
        print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
