"""Page weight and load time of the operator's and the public pages, in Debian's Chromium.

Seeds billing's demo world on SQLite (a temporary file) with a day of passages (1280x720
synthetic camera frames, some in the review queue) and issued invoices, serves the app on
127.0.0.1 with uvicorn, and opens each page in a fresh browser context with the cache off and
the connection throttled (default 10 Mbit/s down, 20 ms latency, as issue 13 measured). For
each page: bytes on the wire (every response, headers included, as Chrome's network layer
counted them), the number of requests, and the time to the load event (and, on the dashboard,
to its charts drawn). ``--plain`` also loads the dashboard asking for no compression, to show
what gzip saves. Prints a table; ``--json`` also writes bench/results/page_weight.json.

    .venv/bin/python bench/page_weight.py
    .venv/bin/python bench/page_weight.py --mbit 10 --rounds 3 --plain --json
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "bench-password"
PAGES = (
    ("dashboard", "op", "/dashboard", "#revenue-day .main-svg"),
    ("passages", "op", "/dashboard/passages", None),
    ("sessions", "op", "/dashboard/sessions", None),
    ("invoices", "op", "/dashboard/invoices", None),
    ("review", "op", "/dashboard/review", None),
    ("admin users", "admin", "/admin/users", None),
    ("api docs", None, "/docs", "#swagger-ui .information-container"),
    ("invoice lookup", None, "/tra-cuu", None),
)


def frame_jpeg(rng: Any) -> bytes:
    """A 1280x720 synthetic camera frame (JPEG, quality 85), as gates send them."""
    from simulator.plates.frame import render_frame

    jpeg = render_frame(rng).jpeg
    assert jpeg is not None
    return jpeg


def seed(data_dir: Path, stays: int, reviews: int) -> tuple[Any, Any]:
    import numpy as np

    from billing.adapters import orm as b
    from billing.adapters.uow import UnitOfWork
    from billing.domain.decisions import PassageInput
    from billing.services import seed_demo, settle_passage
    from gateway import migrate
    from gateway.auth.users import create_user, grant
    from gateway.db import make_engine, make_session_factory

    url = f"sqlite:///{(data_dir / 'bench.db').as_posix()}"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    demo = seed_demo(UnitOfWork(factory))
    with factory() as s:
        op = s.get(b.Operator, demo.operator_id)
        assert op is not None
        op.cash_register_code = "PK001"
        create_user(s, "op", PASSWORD, "operator")
        grant(s, "op", company=demo.operator_id)
        create_user(s, "admin", PASSWORD, "admin")
        s.commit()
    rng = np.random.default_rng(7)
    plates = sorted(demo.plates)
    now = datetime.now(UTC)
    for i in range(stays + reviews):
        lot = demo.lots[i % len(demo.lots)]
        entry_gate, exit_gate = demo.gates[lot]
        exit_at = now - timedelta(minutes=(stays + reviews - i) * 20)
        unread = i >= stays  # the last ones wait in the review queue
        for direction, gate, at in (
            ("entry", entry_gate, exit_at - timedelta(minutes=50)),
            ("exit", exit_gate, exit_at),
        ):
            event_id = f"bench-{uuid.uuid4().hex}"
            ref = f"images/{at.date().isoformat()}/{event_id}.jpg"
            path = data_dir / ref
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(frame_jpeg(rng))
            if direction == "exit" and unread:
                path.with_name(f"{event_id}.1.jpg").write_bytes(frame_jpeg(rng))
            settle_passage(
                UnitOfWork(factory),
                PassageInput(
                    event_id,
                    lot,
                    gate,
                    direction,
                    at,
                    None if (unread and direction == "exit") else plates[i % len(plates)],
                    plate_confidence=0.2 if unread and direction == "exit" else 0.97,
                    needs_review=unread and direction == "exit",
                    image_ref=ref,
                ),
            )
    return url, factory


def issue_invoices(data_dir: Path, factory: Any) -> int:
    from billing.adapters import outbox
    from einvoice.keys import ensure_demo_keys
    from einvoice.maker import XmlInvoiceMaker
    from einvoice.signing import Signer
    from einvoice.worker import InvoiceWorker

    keys = ensure_demo_keys(data_dir / "keys", "0109876543")
    maker = XmlInvoiceMaker(Signer.from_pkcs12(keys.seller_pkcs12, keys.password))
    worker = InvoiceWorker(factory, maker, outbox=outbox)
    return sum(r.outcome == "issued" for r in worker.run_once())


@dataclass(frozen=True)
class Network:
    """The emulated link every page load goes through."""

    mbit: float
    latency_ms: float
    verbose: bool = False  # print every response's size


def measure(
    browser: Any,
    base: str,
    path: str,
    who: str | None,
    ready: str | None,
    net: Network,
    plain: bool = False,
) -> dict[str, Any]:
    """One load of ``path`` through the throttled link, cache off: bytes, requests, times."""
    context = browser.new_context(
        base_url=base, viewport={"width": 1280, "height": 900}, locale="vi-VN"
    )
    page = context.new_page()
    if who:
        _sign_in(page, who)
    cdp = context.new_cdp_session(page)
    _throttle(cdp, net, plain)
    sizes: dict[str, float] = {}
    urls: dict[str, str] = {}
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.update({e["requestId"]: e["request"]["url"]})
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: sizes.update({e["requestId"]: e["encodedDataLength"]}),
    )
    started = time.perf_counter()
    page.goto(path, wait_until="load", timeout=120_000)
    loaded = time.perf_counter() - started
    drawn = None
    if ready:
        page.wait_for_selector(ready, timeout=120_000)
        drawn = time.perf_counter() - started
    page.wait_for_timeout(300)  # late responses (fetches after load) counted too
    context.close()
    if net.verbose:
        for rid, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
            print(f"  {size / 1000:9.1f} KB {urls.get(rid, '?')}", file=sys.stderr)
    return {
        "bytes": int(sum(sizes.values())),
        "requests": len(sizes),
        "load_s": round(loaded, 3),
        "ready_s": round(drawn, 3) if drawn is not None else None,
    }


def _sign_in(page: Any, who: str) -> None:
    """Signed in on a light page, so the home page's images are not counted."""
    page.goto("/login?next=/tra-cuu")
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/tra-cuu")
    page.wait_for_load_state("networkidle")


def _throttle(cdp: Any, net: Network, plain: bool) -> None:
    """Cache off, the link's bandwidth and latency, and no compression when ``plain``."""
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if plain:
        cdp.send("Network.setExtraHTTPHeaders", {"headers": {"Accept-Encoding": "identity"}})
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": net.latency_ms,
            "downloadThroughput": net.mbit * 1_000_000 / 8,
            "uploadThroughput": net.mbit * 1_000_000 / 8,
        },
    )


def median_of(path: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """A page's figures: the median of its loads."""
    return {
        "path": path,
        "bytes": int(statistics.median(r["bytes"] for r in rounds)),
        "requests": int(statistics.median(r["requests"] for r in rounds)),
        "load_s": round(statistics.median(r["load_s"] for r in rounds), 3),
        "ready_s": (
            round(statistics.median(r["ready_s"] for r in rounds), 3)
            if rounds[0]["ready_s"] is not None
            else None
        ),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stays", type=int, default=40, help="paid stays (with frames)")
    parser.add_argument("--reviews", type=int, default=42, help="exits waiting for review")
    parser.add_argument("--mbit", type=float, default=10.0, help="throttled bandwidth")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3, help="loads per page (median kept)")
    parser.add_argument("--plain", action="store_true", help="also the dashboard uncompressed")
    parser.add_argument("--json", action="store_true", help="write bench/results/page_weight.json")
    parser.add_argument("--verbose", action="store_true", help="every response's size")
    args = parser.parse_args()
    if args.stays < 1 or args.reviews < 0 or args.mbit <= 0 or args.rounds < 1:
        parser.error("--stays >= 1, --reviews >= 0, --mbit > 0 and --rounds >= 1")
    return args


def measure_pages(settings: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Every page (and the uncompressed dashboard with --plain), served and loaded in Chromium."""
    from playwright.sync_api import sync_playwright

    from gateway.app import create_app
    from tests.e2e.browser.conftest import serve

    net = Network(args.mbit, args.latency_ms, args.verbose)
    results: dict[str, Any] = {}
    with serve(create_app(settings)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        runs = [(name, who, path, ready, False) for name, who, path, ready in PAGES]
        if args.plain:
            runs.append(("dashboard, no gzip", "op", "/dashboard", PAGES[0][3], True))
        for name, who, path, ready, plain in runs:
            rounds = [
                measure(browser, base, path, who, ready, net, plain) for _ in range(args.rounds)
            ]
            results[name] = median_of(path, rounds)
        browser.close()
    return results


def main() -> None:
    args = parse_args()
    from gateway.settings import Settings
    from gateway.web import assets

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        print(f"seeding {args.stays} stays and {args.reviews} reviews...", file=sys.stderr)
        url, factory = seed(data_dir, args.stays, args.reviews)
        issued = issue_invoices(data_dir, factory)
        settings = Settings(
            database_url=url,
            data_dir=data_dir,
            secret_key="bench",
            lookup_per_minute=100_000,  # every signed-in load passes by /tra-cuu
        )
        assets.warm(data_dir / "cache" / "vendor").join()  # compression is not page time
        results = measure_pages(settings, args)
    print(
        f"\n{args.mbit:g} Mbit/s, {args.latency_ms:g} ms, cache off; median of {args.rounds}; "
        f"{args.stays} stays, {args.reviews} in review, {issued} invoices"
    )
    print(
        f"{'page':<20} {'path':<22} {'KB on wire':>11} {'requests':>9} {'load s':>7} {'ready s':>8}"
    )
    for name, r in results.items():
        ready = f"{r['ready_s']:.2f}" if r["ready_s"] is not None else "-"
        print(
            f"{name:<20} {r['path']:<22} {r['bytes'] / 1000:>11,.0f} {r['requests']:>9} "
            f"{r['load_s']:>7.2f} {ready:>8}"
        )
    if args.json:
        out = ROOT / "bench" / "results" / "page_weight.json"
        payload = {
            "machine": f"{platform.node()} ({platform.machine()}), shared with other work",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "mbit": args.mbit,
            "latency_ms": args.latency_ms,
            "rounds": args.rounds,
            "stays": args.stays,
            "reviews": args.reviews,
            "pages": results,
        }
        out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
