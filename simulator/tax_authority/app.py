"""The mock tax authority's FastAPI app: its own database, API, tax-office pages, faults."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp

from simulator.tax_authority import api, db, pages
from simulator.tax_authority.captcha import CaptchaSource, PictureCaptcha
from simulator.tax_authority.checks import LOCAL_TZ, Checkers, default_checkers
from simulator.tax_authority.faults import FaultDice, FaultInjector, FaultPlan
from simulator.tax_authority.registry import RegisteredSeller, parse_series_patterns
from simulator.tax_authority.service import Countersign, TaxAuthority
from simulator.tax_authority.settings import TaxAuthoritySettings
from simulator.tax_authority.store import register_seller

log = logging.getLogger("simulator.tax_authority")
HERE = Path(__file__).parent


class TaxAuthorityApp(FastAPI):
    """FastAPI with the fault injector outermost, where it can reach the raw connection."""

    fault_dice: FaultDice | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if self.fault_dice is not None and self.fault_dice.plan.active:
            return FaultInjector(stack, self.fault_dice)
        return stack


def fault_plan(settings: TaxAuthoritySettings) -> FaultPlan:
    return FaultPlan(
        latency_ms=settings.fault_latency_ms,
        latency_jitter_ms=settings.fault_latency_jitter_ms,
        error_rate=settings.fault_error_rate,
        drop_rate=settings.fault_drop_rate,
        drop_after_rate=settings.fault_drop_after_rate,
        seed=settings.fault_seed,
        path_prefixes=tuple(p.strip() for p in settings.fault_paths.split(",") if p.strip()),
    )


def seed_demo_seller(settings: TaxAuthoritySettings, sessions: sessionmaker[Session]) -> None:
    code = settings.demo_seller_cash_register_code.strip().upper()
    if not (len(code) == 5 and code.isalnum()):
        # An authority-coded seller may have none; the registry still needs one to be unique.
        derived = "".join(ch for ch in settings.demo_seller_tax_code if ch.isdigit())[-5:]
        log.warning("tax authority: demo cash-register code %r invalid, using %s", code, derived)
        code = derived
    seller = RegisteredSeller(
        tax_code=settings.demo_seller_tax_code,
        name=settings.demo_seller_name,
        cash_register_code=code,
        series_patterns=parse_series_patterns(settings.demo_seller_series),
    )
    with sessions.begin() as session:
        register_seller(session, seller)
    log.info("tax authority: demo seller %s registered", seller.tax_code)


def create_app(
    settings: TaxAuthoritySettings | None = None,
    *,
    checkers: Checkers | None = None,
    countersign: Countersign | None = None,
    clock: Callable[[], datetime] | None = None,
    captcha: CaptchaSource | None = None,
) -> FastAPI:
    """Build the app. Without ``countersign`` the authority's key comes from the settings
    (or the demo key set), loaded on the first coding request."""
    settings = settings or TaxAuthoritySettings()
    engine = db.make_engine(settings.effective_database_url)
    db.create_schema(engine)
    sessions = db.make_session_factory(engine)
    if settings.seed_demo_seller:
        seed_demo_seller(settings, sessions)

    if checkers is None and settings.trusted_ca_pem is not None:
        anchors = x509.load_pem_x509_certificates(settings.trusted_ca_pem.read_bytes())
        checkers = default_checkers(tuple(anchors))

    service = TaxAuthority(
        settings=settings,
        sessions=sessions,
        countersign=countersign or _LazyCountersign(settings),
        checkers=checkers,
    )
    if clock is not None:
        service.clock = clock

    app = TaxAuthorityApp(
        title="Mock tax authority",
        description="Receives TDiep messages, checks and codes e-invoices (a simulator).",
        version="1",
    )
    app.fault_dice = FaultDice(fault_plan(settings))
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.service = service
    app.state.templates = make_templates()
    app.state.captcha = captcha or PictureCaptcha()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    app.include_router(api.router)
    app.include_router(pages.router)
    return app


class _LazyCountersign:
    """Loads the key on first use: starting the app never needs einvoice.signing or keys."""

    def __init__(self, settings: TaxAuthoritySettings) -> None:
        self.settings = settings
        self._fn: Any = None

    def __call__(self, hdon: Any) -> Any:
        if self._fn is None:
            from simulator.tax_authority.authority_key import load_countersigner

            self._fn = load_countersigner(self.settings)
        return self._fn(hdon)


def make_templates() -> Jinja2Templates:
    # Our pages, and einvoice's face of an invoice (``_invoice.html``) to show one as a document.
    loader = ChoiceLoader([FileSystemLoader(HERE / "templates"), PackageLoader("einvoice")])
    templates = Jinja2Templates(env=Environment(loader=loader, autoescape=True))
    templates.env.filters["vnd"] = lambda v: "" if v is None else f"{int(v):,}".replace(",", ".")
    templates.env.filters["local"] = local_time
    templates.env.globals["modes"] = {
        "cash_register": "Khởi tạo từ máy tính tiền",
        "authority_coded": "Có mã của cơ quan thuế",
    }
    templates.env.globals["roles"] = {
        "seller": "người bán",
        "authority": "cơ quan thuế",
        "unknown": "không rõ",
    }
    return templates


def local_time(value: datetime | None) -> str:
    """Vietnamese local time for display (SQLite hands back naive UTC values)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M:%S")
