"""Access before validation: typed dependencies that check the account, lot, passage, session
or invoice a request names against the signed-in user before its query or body is looked at.

FastAPI runs a route's dependencies before it validates the route's own query parameters and
body. A check made inside the route came after that: ``PUT /accounts/{other}/auto-topup``
with a bad body answered 422 (and said what was wrong with the body) before it said 403. Each
route here takes the id as one of these types instead (``account_id: AccountId``), so a
request about someone else's account or lot is refused, 403, or 404 where nothing exists,
whatever else is wrong with it. Each check ends its read transaction (on SQLite a transaction
holds the write lock billing's unit of work needs). :class:`AccessFirstRoute` covers the one
case FastAPI decides before any dependency: a body that is not JSON at all.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.dependencies.utils import solve_dependencies
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gateway.api import queries
from gateway.api.schemas import CodedHTTPException, IdPath
from gateway.auth.principal import Principal
from gateway.deps import (
    ACCESS_CHECKS,
    CurrentUser,
    OperatorUser,
    SessionDep,
    access_check,
    ensure_account,
    ensure_lot,
    release,
)

LotPath = Annotated[str, Path(min_length=1, max_length=40)]


@access_check
def account_access(account_id: IdPath, session: SessionDep, user: CurrentUser) -> int:
    """A driver's own account, any account for an admin (403 otherwise; 404: none such)."""
    ensure_account(user, account_id)
    if queries.account(session, account_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no account {account_id}")
    release(session)
    return account_id


AccountId = Annotated[int, Depends(account_access)]


@access_check
def lot_access(lot_id: LotPath, session: SessionDep, user: OperatorUser) -> str:
    """A lot the operator was granted (404 first: an unknown lot has no company to check)."""
    lot = queries.lot(session, lot_id)
    if lot is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no lot {lot_id}")
    ensure_lot(user, lot.id, lot.operator_id)
    release(session)
    return lot_id


LotId = Annotated[str, Depends(lot_access)]


@access_check
def lot_filter(
    session: SessionDep,
    user: CurrentUser,
    lot_id: Annotated[str | None, Query(max_length=40, description="only this lot")] = None,
) -> str | None:
    """The optional ``?lot_id=`` of a listing: an operator's own lot (a driver's listings are
    limited to their account anyway)."""
    visible = lot_id is None or user.role == "driver"
    if not visible and lot_id not in queries.visible_lot_ids(session, user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"no access to lot {lot_id}")
    release(session)
    return lot_id


LotFilter = Annotated[str | None, Depends(lot_filter)]


def can_see(user: Principal, session: SessionDep, lot_id: str, account_id: int | None) -> bool:
    """A driver sees what belongs to their account; an operator what happened at their lots."""
    if user.role == "driver":
        return account_id is not None and user.owns_account(account_id)
    return lot_id in queries.visible_lot_ids(session, user)


def _check_visible(session: SessionDep, user: Principal, row: Any) -> None:
    """404 when there is no such row, 403 when it is not this user's to see (catalogue codes:
    the dashboard's forms show them next to the action)."""
    if row is None:
        raise CodedHTTPException(status.HTTP_404_NOT_FOUND, "not_found")
    if not can_see(user, session, row.lot_id, row.account_id):
        raise CodedHTTPException(status.HTTP_403_FORBIDDEN, "no_access")


def check_passage(session: SessionDep, user: Principal, passage_id: int) -> None:
    _check_visible(session, user, queries.passage(session, passage_id))


@access_check
def passage_access(passage_id: IdPath, session: SessionDep, user: CurrentUser) -> int:
    check_passage(session, user, passage_id)
    release(session)
    return passage_id


PassageId = Annotated[int, Depends(passage_access)]


@access_check
def review_access(passage_id: PassageId, user: OperatorUser) -> int:
    """A passage of one of the operator's lots (drivers never act on the review queue)."""
    return passage_id


ReviewPassageId = Annotated[int, Depends(review_access)]


@access_check
def session_access(session_id: IdPath, session: SessionDep, user: CurrentUser) -> int:
    row = queries.parking_session(session, session_id)
    _check_visible(session, user, row)
    release(session)
    return session_id


SessionId = Annotated[int, Depends(session_access)]


class AccessFirstRoute(APIRoute):
    """A route that answers 401/403/404 rather than 422 to a body that is not even JSON.

    FastAPI decodes a JSON body before it runs any dependency, and a decoding error ends the
    request there. Only then, and only for requests whose body did not decode, this route runs
    the route's access dependencies (those marked ``gateway.deps.access_check``: sign-in, role,
    and the ids of this module) and lets their refusal win. A valid request never pays for the
    second look.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def access_first(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                if any(e.get("type") == "json_invalid" for e in exc.errors()):
                    await self._check_access(request)
                raise

        return access_first

    async def _check_access(self, request: Request) -> None:
        """Run the route's access dependencies; their HTTPException is the answer."""
        stack = request.scope.get("fastapi_inner_astack")
        if not isinstance(stack, AsyncExitStack):
            return
        # One cache, as in FastAPI's own pass: the user is read once, and the request's database
        # session is one (on SQLite a second one would wait for the first one's write lock).
        cache: dict[Any, Any] = {}
        for guard in self.dependant.dependencies:
            if guard.call not in ACCESS_CHECKS:
                continue
            solved = await solve_dependencies(
                request=request,
                dependant=guard,
                body=None,
                dependency_cache=cache,
                async_exit_stack=stack,
                embed_body_fields=False,
            )
            if not solved.errors:  # a malformed id: the 422 stands
                await run_in_threadpool(guard.call, **solved.values)  # raises 401/403/404
