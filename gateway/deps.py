"""Typed FastAPI dependencies: the database session, billing's unit of work, who is asking.

Routes declare what they need (``session: SessionDep``, ``user: OperatorUser``) and stay thin.
API callers authenticate with ``Authorization: Bearer <token>``; pages with a signed cookie.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar
from urllib.parse import urlparse

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from billing.adapters.uow import UnitOfWork
from gateway import messages
from gateway.auth.principal import Principal
from gateway.auth.throttle import SignInThrottle
from gateway.auth.tokens import COOKIE_NAME, TokenKind, TokenSigner, fingerprint
from gateway.auth.users import load_user, principal_for
from gateway.notices.worker import NoticeWorker
from gateway.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

#: Dependencies that decide who may ask: ``gateway.api.access.AccessFirstRoute`` runs them for a
#: request whose body is not JSON, which FastAPI refuses before any dependency runs.
ACCESS_CHECKS: set[Callable[..., Any]] = set()


def access_check(fn: F) -> F:
    """Mark a dependency as an access check (see ``ACCESS_CHECKS``)."""
    ACCESS_CHECKS.add(fn)
    return fn


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]


READ_METHODS = frozenset({"GET", "HEAD"})


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed when the route returns without error.

    A GET or HEAD request reads the replica when there is one (``PARKING_DATABASE_READ_URL``):
    the dashboards, listings and reports. It may lag the primary by a moment; a hot standby
    refuses writes, so a GET that writes declares :data:`PrimarySessionDep` instead.
    """
    replica: sessionmaker[Session] | None = getattr(request.app.state, "read_session_factory", None)
    if replica is not None and request.method in READ_METHODS:
        yield from _session_of(replica)
    else:
        yield from _session_of(get_session_factory(request))


def get_primary_session(request: Request) -> Iterator[Session]:
    """One session per request on the primary, whatever the method (see :func:`get_session`)."""
    yield from _session_of(get_session_factory(request))


def _session_of(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
PrimarySessionDep = Annotated[Session, Depends(get_primary_session)]


def get_uow(request: Request) -> UnitOfWork:
    """Billing's unit of work bound to this app's session factory (a fresh one per request)."""
    make_uow: Callable[[], UnitOfWork] = request.app.state.uow_factory
    return make_uow()


UowDep = Annotated[UnitOfWork, Depends(get_uow)]


def get_signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.token_signer
    return signer


SignerDep = Annotated[TokenSigner, Depends(get_signer)]


def get_throttle(request: Request) -> SignInThrottle:
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    return throttle


ThrottleDep = Annotated[SignInThrottle, Depends(get_throttle)]


def client_address(request: Request) -> str:
    """The peer's address (behind a proxy: the proxy's, unless uvicorn trusts its headers)."""
    return request.client.host if request.client is not None else "unknown"


def get_notice_worker(request: Request) -> NoticeWorker:
    """Sends a notice right away (a sign-up code) with the app's senders; the worker process
    sends whatever this misses."""
    worker: NoticeWorker = request.app.state.notice_worker
    return worker


NoticeWorkerDep = Annotated[NoticeWorker, Depends(get_notice_worker)]

_bearer = HTTPBearer(auto_error=False, description="token from POST /api/v1/auth/token")


def _principal_from(
    session: Session, signer: TokenSigner, kind: TokenKind, token: str
) -> Principal | None:
    claims = signer.load(kind, token)
    if claims is None:
        return None
    user = load_user(session, claims.user_id)
    if user is None or fingerprint(user.password_hash) != claims.fingerprint:
        return None
    return principal_for(session, user)


def optional_user(
    request: Request,
    factory: SessionFactoryDep,
    signer: SignerDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    # A short session of its own: on SQLite every transaction takes the write lock, and the
    # request's session must not hold it while a route calls billing's unit of work.
    token = creds.credentials if creds is not None else request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    if creds is None:
        _refuse_cross_site(request)
    with factory() as session:
        return _principal_from(session, signer, "api" if creds else "cookie", token)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _refuse_cross_site(request: Request) -> None:
    """A cookie-authenticated change must come from our own pages (besides SameSite=Lax)."""
    if request.method in SAFE_METHODS:
        return
    source = request.headers.get("origin") or request.headers.get("referer")
    if source and urlparse(source).netloc != request.url.netloc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")


def release(session: Session) -> None:
    """End the request session's transaction before billing opens its own unit of work."""
    session.commit()


OptionalUser = Annotated[Principal | None, Depends(optional_user)]


@access_check
def current_user(user: OptionalUser) -> Principal:
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not signed in or the token has expired",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[Principal, Depends(current_user)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(roles)}"
            )
        return user

    return access_check(check)


OperatorUser = Annotated[Principal, Depends(require_roles("operator", "admin"))]
DriverUser = Annotated[Principal, Depends(require_roles("driver"))]
AdminUser = Annotated[Principal, Depends(require_roles("admin"))]


def ensure_lot(user: Principal, lot_id: object, company: str | None = None) -> None:
    if not user.can_see_lot(str(lot_id), company):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"no access to lot {lot_id}")


def ensure_account(user: Principal, account_id: object) -> None:
    if not user.can_see_account(account_id):
        # Never echo the id: a refusal must not confirm which accounts exist.
        raise HTTPException(status.HTTP_403_FORBIDDEN, messages.text("no_access_account", "en"))
