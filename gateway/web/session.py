"""Page-side authentication: a signed cookie, and a redirect to the sign-in page when missing."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.auth.principal import Principal
from gateway.deps import OptionalUser


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PageForbidden(Exception):
    """Signed in, but this page belongs to another role or another lot."""


def page_user(request: Request, user: OptionalUser) -> Principal:
    if user is None:
        raise LoginRequired(str(request.url.path))
    return user


PageUser = Annotated[Principal, Depends(page_user)]


def page_operator(user: PageUser) -> Principal:
    if not user.is_operator:
        raise PageForbidden()
    return user


def page_driver(user: PageUser) -> Principal:
    if user.role != "driver":
        raise PageForbidden()
    return user


def page_admin(user: PageUser) -> Principal:
    if not user.is_admin:
        raise PageForbidden()
    return user


OperatorPage = Annotated[Principal, Depends(page_operator)]
AdminPage = Annotated[Principal, Depends(page_admin)]
DriverPage = Annotated[Principal, Depends(page_driver)]
