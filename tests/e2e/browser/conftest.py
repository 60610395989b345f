"""A real server (uvicorn on a free port) over a seeded SQLite database, and Debian's chromium."""

from __future__ import annotations

import io
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from PIL import Image, ImageDraw
from sqlalchemy.orm import Session, sessionmaker

from gateway import migrate
from gateway.app import create_app
from gateway.auth.users import create_user, grant
from gateway.db import make_engine, make_session_factory
from gateway.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
PASSWORD = "browser-test-password"


@dataclass
class Site:
    url: str
    settings: Settings
    session_factory: sessionmaker[Session]
    demo: Any

    def uow(self) -> Any:
        from billing.adapters.uow import UnitOfWork

        return UnitOfWork(self.session_factory)

    def settle(
        self,
        lot: str,
        direction: str,
        plate: str | None,
        at: datetime,
        *,
        confidence: float = 0.96,
        frame_text: str | None = None,
    ) -> Any:
        from billing.domain.decisions import PassageInput
        from billing.services.settle import settle_passage

        event_id = f"ev-{uuid.uuid4().hex}"
        image_ref = None
        if frame_text is not None:
            image_ref = f"images/{event_id}.jpg"
            path = self.settings.data_dir / image_ref
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(plate_frame(frame_text))
        entry_gate, exit_gate = self.demo.gates[lot]
        return settle_passage(
            self.uow(),
            PassageInput(
                event_id=event_id,
                lot_id=lot,
                gate_id=entry_gate if direction == "entry" else exit_gate,
                direction=direction,
                captured_at=at,
                plate_text=plate,
                plate_confidence=confidence,
                needs_review=confidence < 0.8,
                image_ref=image_ref,
            ),
        )


def plate_frame(text: str) -> bytes:
    """A small camera-like JPEG with a white plate, enough for an operator to read."""
    img = Image.new("RGB", (320, 180), (70, 74, 82))
    draw = ImageDraw.Draw(img)
    draw.rectangle((70, 60, 250, 120), fill=(245, 245, 240), outline=(20, 20, 20), width=3)
    draw.text((95, 82), text, fill=(10, 10, 10))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[Site]:
    from billing.adapters import orm as b
    from billing.adapters.uow import UnitOfWork
    from billing.services.seed import CENTRAL_LOT, seed_demo

    url = f"sqlite:///{(tmp_path / 'site.db').as_posix()}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    demo = seed_demo(UnitOfWork(factory))
    with factory() as s:
        op = s.get(b.Operator, demo.operator_id)
        assert op is not None
        if not re.fullmatch(r"[A-Z0-9]{5}", op.cash_register_code or ""):
            op.cash_register_code = "PK001"  # einvoice's numbering wants 5 characters
        create_user(s, "op-central", PASSWORD, "operator", display_name="Phạm Thu Hà")
        grant(s, "op-central", lot_id=CENTRAL_LOT)
        create_user(
            s,
            "an",
            PASSWORD,
            "driver",
            display_name="Nguyễn Văn An",
            account_id=demo.accounts["an"],
        )
        s.commit()
    settings = Settings(
        database_url=url,
        data_dir=tmp_path,
        secret_key="browser-secret",
        payment_webhook_secret="browser-webhook",
        tax_authority_url="http://127.0.0.1:8100",
    )
    try:
        with serve(create_app(settings)) as url:
            yield Site(url, settings, factory, demo)
    finally:
        engine.dispose()


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` on uvicorn in a thread, on a free port of 127.0.0.1; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One chromium for the browser tests. Package scope, not session: Playwright's sync API
    keeps an event loop running in the main thread while it is open, and asyncio tests that
    run after this package would then fail with "cannot be called from a running event loop".
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(
        base_url=site.url,
        viewport={"width": 1360, "height": 900},
        accept_downloads=True,
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
    )
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


@pytest.fixture(params=["phone", "desktop"])
def device(request: pytest.FixtureRequest, browser: Any, site: Site) -> Iterator[tuple[Any, str]]:
    """A page at a phone's size (390x844, touch) and at a desktop's (1280x900): (page, name)."""
    from tests.e2e.browser.checks import VIEWPORTS

    name = str(request.param)
    context = browser.new_context(
        base_url=site.url,
        viewport=VIEWPORTS[name],
        is_mobile=name == "phone",
        has_touch=name == "phone",
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
    )
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg, name
    context.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def now() -> datetime:
    return datetime.now(UTC)
