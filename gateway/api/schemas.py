"""Models shared by the API routes: pagination, errors."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Path, Query
from pydantic import BaseModel, Field

T = TypeVar("T")

# Database ids are 32-bit on every backend: a larger number is a 422, not a driver overflow.
MAX_ID = 2_147_483_647
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="rows matching the filters, all pages")
    limit: int
    offset: int


class Paging(BaseModel):
    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=500, description="rows per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="rows to skip")] = 0,
) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


class Problem(BaseModel):
    detail: str


AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "not signed in"},
    403: {"model": Problem, "description": "signed in, but not allowed"},
}
