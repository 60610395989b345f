"""Latency of the operator's and driver's reads with a busy day of passages in the database.

Seeds billing's demo world on SQLite (a temporary file), settles ``--stays`` entry/exit pairs
spread over the last ``--days`` days, then times the API and page reads an operator's screen
polls (live feed every 2 s, the dashboard with its charts) and a driver's portal, through the
ASGI app in-process (httpx, no network). Prints a table; ``--json`` also writes
bench/results/api_reads.json.

    .venv/bin/python bench/api_reads.py
    .venv/bin/python bench/api_reads.py --stays 3000 --rounds 30 --json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from billing.adapters.uow import UnitOfWork  # noqa: E402
from billing.domain.decisions import PassageInput  # noqa: E402
from billing.services import seed_demo, settle_passage  # noqa: E402
from gateway import migrate  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.auth.users import create_user, grant  # noqa: E402
from gateway.db import make_engine, make_session_factory  # noqa: E402
from gateway.settings import Settings  # noqa: E402

PASSWORD = "bench-password"


def seed(url: str, stays: int, days: int) -> dict[str, object]:
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    demo = seed_demo(UnitOfWork(factory))
    plates = sorted(demo.plates)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for i in range(stays):
        lot = demo.lots[i % len(demo.lots)]
        entry_gate, exit_gate = demo.gates[lot]
        plate = plates[i % len(plates)]
        exit_at = now - timedelta(minutes=(days * 24 * 60) * (stays - i) / stays)
        for direction, gate, at in (
            ("entry", entry_gate, exit_at - timedelta(minutes=40 + i % 90)),
            ("exit", exit_gate, exit_at),
        ):
            settle_passage(
                UnitOfWork(factory),
                PassageInput(f"b-{uuid.uuid4().hex}", lot, gate, direction, at, plate, 0.97),
            )
    seeded_s = time.perf_counter() - started
    with factory() as s:
        create_user(s, "bench-op", PASSWORD, "operator")
        grant(s, "bench-op", company=demo.operator_id)
        create_user(s, "bench-driver", PASSWORD, "driver", account_id=demo.accounts["an"])
        s.commit()
    return {"seed_s": round(seeded_s, 1)}


def timed(client: TestClient, path: str, rounds: int, headers: dict[str, str]) -> dict[str, float]:
    client.get(path, headers=headers)  # warm caches and imports
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        r = client.get(path, headers=headers)
        samples.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 1),
        "max_ms": round(samples[-1], 1),
    }


TARGETS = [
    ("operator", "/api/v1/passages?limit=50"),
    ("operator", "/api/v1/passages?after_id=999999999"),
    ("operator", "/api/v1/reports/revenue"),
    ("operator", "/api/v1/reports/occupancy"),
    ("operator", "/api/v1/review"),
    ("driver", "/api/v1/sessions?limit=50"),
    ("driver", "/api/v1/passages?limit=50"),
]


def time_reads(client: TestClient, rounds: int) -> dict[str, dict[str, float]]:
    """Each API read as its user (a bearer token), then the operator's pages (a session)."""

    def login(user: str) -> dict[str, str]:
        r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    headers = {"operator": login("bench-op"), "driver": login("bench-driver")}
    cookie = client.post(
        "/login",
        data={"username": "bench-op", "password": PASSWORD},
        follow_redirects=False,
    ).cookies
    results = {}
    for who, path in TARGETS:
        results[f"{who} GET {path}"] = timed(client, path, rounds, headers[who])
    client.cookies = cookie
    results["operator page /dashboard"] = timed(client, "/dashboard", rounds, {})
    results["operator page /dashboard/passages"] = timed(client, "/dashboard/passages", rounds, {})
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stays", type=int, default=1000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        info = seed(url, args.stays, args.days)
        app = create_app(Settings(database_url=url, data_dir=Path(tmp), secret_key="bench"))
        with TestClient(app) as client:
            results = time_reads(client, args.rounds)
    width = max(len(k) for k in results)
    print(f"{args.stays} stays over {args.days} days on SQLite; seeded in {info['seed_s']} s")
    print(f"{'request':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}")
    for name, r in results.items():
        print(f"{name:<{width}}  {r['p50_ms']:>8}  {r['p95_ms']:>8}  {r['max_ms']:>8}")
    if args.json:
        out = ROOT / "bench" / "results" / "api_reads.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {
                    "stays": args.stays,
                    "days": args.days,
                    "rounds": args.rounds,
                    "machine": platform.platform(),
                    "python": platform.python_version(),
                    **info,
                    "results": results,
                },
                indent=2,
            )
        )
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
