"""Driver portal pages on a phone: bytes on the wire and load time, cache off, on a throttled link.

    .venv/bin/python bench/portal_pages.py            # 10 Mbit/s, 40 ms, 3 loads per page
    .venv/bin/python bench/portal_pages.py --mbit 2 --rtt-ms 150 --json

Starts the app on a seeded SQLite database (a driver with trips, invoices and notices), drives
Debian's Chromium at 390x844 through Playwright, throttles the network with the DevTools
protocol and disables the cache, then loads each page and reads the bytes transferred (every
response's encoded length) and the time to the load event. The median of the loads is kept.
Figures go to bench/results/portal_pages.json; the machine's load average is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.web import navigation  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "portal_pages.json"
PUBLIC_PAGES = ("/login", "/signup", "/reset")
PAGES = tuple(item.href for item in navigation.DRIVER)
PASSWORD = "bench-password-1"


def _site(data_dir: Path) -> tuple[str, Any, Any, tuple[str, ...]]:
    """The app on a free port over a seeded database: (url, server, thread, the pages only the
    seeding knows: a top-up request's)."""
    import uvicorn

    from billing.adapters.uow import UnitOfWork
    from billing.domain.decisions import PassageInput
    from billing.services.seed import CENTRAL_LOT, seed_demo
    from billing.services.settle import settle_passage
    from gateway import migrate
    from gateway.app import create_app
    from gateway.auth.users import create_user
    from gateway.broker import free_port
    from gateway.db import make_engine, make_session_factory
    from gateway.notices.stub import StubSender
    from gateway.notices.worker import NoticeWorker
    from gateway.settings import Settings

    url = f"sqlite:///{(data_dir / 'bench.db').as_posix()}"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    demo = seed_demo(UnitOfWork(factory))
    with factory() as s:
        create_user(s, "an", PASSWORD, "driver", account_id=demo.accounts["an"])
        s.commit()
    entry, exit_ = demo.gates[CENTRAL_LOT]
    start = datetime.now(UTC) - timedelta(hours=20)
    for i in range(12):  # a dozen trips: lists with something in them
        for gate, direction, at in (
            (entry, "entry", start + timedelta(hours=i)),
            (exit_, "exit", start + timedelta(hours=i, minutes=50)),
        ):
            settle_passage(
                UnitOfWork(factory),
                PassageInput(
                    f"bench-{i}-{direction}",
                    CENTRAL_LOT,
                    gate,
                    direction,
                    at,
                    "30A-123.45",
                    0.97,
                    False,
                    None,
                ),
            )
    NoticeWorker(factory, {"push": StubSender(data_dir / "push.jsonl")}).run_once()
    # The wallet as drivers see it: the three simulated providers on the top-up form (their
    # service is not contacted: only our pages are measured) and one top-up request's page.
    from billing.services.intents import open_topup_intent
    from simulator.payments.config import demo_providers, merchant_settings

    providers = merchant_settings(demo_providers(), "http://127.0.0.1:9")
    intent = open_topup_intent(UnitOfWork(factory), demo.accounts["an"], "vnpay-qr", 200_000)
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key="bench",
        payment_providers=providers,  # type: ignore[arg-type]
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread, (f"/portal/topups/{intent.reference}",)


def measure(
    base: str, mbit: float, rtt_ms: float, loads: int, extra: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(
            base_url=base, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": rtt_ms,
                "downloadThroughput": mbit * 1_000_000 / 8,
                "uploadThroughput": mbit * 1_000_000 / 8,
            },
        )
        received: list[int] = []
        cdp.on("Network.loadingFinished", lambda e: received.append(int(e["encodedDataLength"])))

        def load_all(paths: tuple[str, ...]) -> None:
            for path in paths:
                times, sizes = [], []
                for _ in range(loads):
                    received.clear()
                    t0 = time.perf_counter()
                    page.goto(path, wait_until="load")
                    times.append((time.perf_counter() - t0) * 1000)
                    page.wait_for_timeout(100)  # the last loadingFinished events
                    sizes.append(sum(received))
                rows.append(
                    {
                        "page": path,
                        "bytes": int(statistics.median(sizes)),
                        "load_ms": round(statistics.median(times), 1),
                    }
                )

        load_all(PUBLIC_PAGES)
        page.goto("/login")
        page.fill("#f-username", "an")
        page.fill("#f-password", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url("**/portal")
        load_all(PAGES + extra)
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mbit", type=float, default=10.0)
    parser.add_argument("--rtt-ms", type=float, default=40.0)
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the JSON instead of a table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base, server, thread, extra = _site(Path(tmp))
        try:
            rows = measure(base, args.mbit, args.rtt_ms, args.loads, extra)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    load_avg = round(os.getloadavg()[0], 2)
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_avg_1m": load_avg,
        },
        "link": {"mbit_s": args.mbit, "rtt_ms": args.rtt_ms, "cache": "off", "viewport": "390x844"},
        "pages": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"link {args.mbit} Mbit/s, {args.rtt_ms} ms, cache off, 390x844; "
        f"load average {load_avg} (shared machine)"
    )
    print(f"{'page':<22}{'bytes':>10}{'load ms':>10}")
    for r in rows:
        print(f"{r['page']:<22}{r['bytes']:>10,}{r['load_ms']:>10}")


if __name__ == "__main__":
    main()
