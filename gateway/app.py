"""The HTTP application: REST API, operator dashboard, driver portal, and the ops endpoints.

``create_app`` is the only place the web layer is wired; it does no work at import time.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from gateway.auth.throttle import SignInThrottle
from gateway.auth.tokens import TokenSigner
from gateway.db import make_engine, make_session_factory
from gateway.local_secrets import with_local_secrets
from gateway.payments.providers import directory, labels
from gateway.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from billing.adapters.uow import UnitOfWork

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


class AppContainer(Protocol):
    """What the web layer takes from the composition root (gateway.bootstrap.Container)."""

    session_factory: sessionmaker[Session]

    def uow_factory(self) -> UnitOfWork: ...


def _default_uow_factory(session_factory: sessionmaker[Session]) -> Callable[[], UnitOfWork]:
    def make() -> UnitOfWork:
        from billing.adapters.uow import UnitOfWork

        return UnitOfWork(session_factory)

    return make


def _read_session_factory(
    app: FastAPI, settings: Settings, container: AppContainer | None
) -> sessionmaker[Session] | None:
    """The replica's sessions for GET requests (``PARKING_DATABASE_READ_URL``), else None."""
    if container is not None:
        from_container: sessionmaker[Session] | None = getattr(
            container, "read_session_factory", None
        )
        return from_container
    if not settings.database_read_url:
        return None
    app.state.read_engine = make_engine(settings.database_read_url)
    return make_session_factory(app.state.read_engine)


def create_app(settings: Settings | None = None, container: AppContainer | None = None) -> FastAPI:
    """The application over ``container``'s database, or over its own engine without one."""
    settings = settings or get_settings()
    app = FastAPI(
        lifespan=_lifespan,
        docs_url=None,  # served by gateway.web.docs from the installed Swagger UI (no CDN)
        redoc_url=None,
        title="Cashless parking",
        version="1.0",
        description=(
            "Prepaid transport accounts, passages, parking sessions, tariffs, e-invoices and the "
            "operators' review queue. Authenticate with `POST /api/v1/auth/token` and send "
            "`Authorization: Bearer <token>`."
        ),
    )
    _wire_state(app, with_local_secrets(settings), container)
    _include_routes(app)
    _add_error_pages(app)
    return app


def _wire_state(app: FastAPI, settings: Settings, container: AppContainer | None) -> None:
    """The database, signers, throttles, providers and notice worker the routes depend on."""
    from gateway.invoice_links import public_base
    from gateway.notices import senders
    from gateway.notices.worker import NoticeWorker

    if container is not None:
        session_factory = container.session_factory
        app.state.uow_factory = container.uow_factory
    else:
        engine = make_engine(settings.effective_database_url)
        session_factory = make_session_factory(engine)
        app.state.engine = engine
        app.state.uow_factory = _default_uow_factory(session_factory)
    app.state.settings = settings
    app.state.container = container
    app.state.session_factory = session_factory
    app.state.read_session_factory = _read_session_factory(app, settings, container)
    app.state.token_signer = TokenSigner(settings.secret_key)
    app.state.sign_in_throttle = SignInThrottle()
    app.state.payment_providers = directory(settings.payment_providers)
    app.state.notice_worker = NoticeWorker(
        session_factory,
        senders.from_settings(settings),
        receipt_window=timedelta(hours=settings.notice_receipt_window_h),
        provider_names=labels(settings.payment_providers),
        public_url=public_base(settings),
        authority_url=settings.tax_authority_url,
    )


def _include_routes(app: FastAPI) -> None:
    """The API, the pages, their assets and the ops endpoints."""
    from gateway.api import router as api_router
    from gateway.web import assets, docs, pages
    from gateway.web.auth_pages import router as auth_pages_router
    from gateway.web.rendering import STATIC_DIR

    app.include_router(api_router.build(), prefix=API_PREFIX)
    app.include_router(assets.router)
    app.include_router(docs.router)
    app.include_router(auth_pages_router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Pages, JSON and our own CSS/JS compressed on the way out (vendor assets come compressed).
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    _include_ops(app)


def _add_error_pages(app: FastAPI) -> None:
    """Sign-in redirects, and the error page for too many lookups and forbidden pages."""
    from gateway.web.lookup import TooManyLookups
    from gateway.web.session import LoginRequired, PageForbidden

    @app.exception_handler(LoginRequired)
    def _to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)

    @app.exception_handler(TooManyLookups)
    def _too_many(request: Request, exc: TooManyLookups) -> Response:
        from gateway.web.rendering import render

        response = render(request, "error.html", status_code=429, message="too_many_lookups")
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(PageForbidden)
    def _forbidden(request: Request, exc: PageForbidden) -> Response:
        from gateway.web.rendering import render

        return render(request, "error.html", status_code=403, message="forbidden")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    from gateway.web import assets

    assets.warm(Path(app.state.settings.data_dir) / "cache" / "vendor")
    yield


def _include_ops(app: FastAPI) -> None:
    """/metrics, /livez, /readyz from gateway.ops when the service side provides it."""
    try:
        ops = importlib.import_module("gateway.ops")
    except ModuleNotFoundError as exc:
        if exc.name != "gateway.ops":
            raise
        log.info("gateway.ops not present: no /metrics, /livez, /readyz")
        return
    app.include_router(ops.router)
