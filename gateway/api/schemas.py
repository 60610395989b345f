"""Models shared by the API routes: pagination, errors."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from gateway import messages

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


class CodedHTTPException(HTTPException):
    """An API error whose text is the message catalogue's (English) for ``code``; pages that
    call the same code path show the catalogue's text in the reader's language instead."""

    def __init__(self, status_code: int, code: str, **params: object) -> None:
        self.code = code if messages.known(code) else messages.REFUSED
        super().__init__(status_code, messages.text(self.code, "en", **params))


AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "not signed in"},
    403: {"model": Problem, "description": "signed in, but not allowed"},
}


def not_found(what: str = "no such resource") -> dict[int | str, dict[str, object]]:
    return {404: {"model": Problem, "description": what}}


def conflict(what: str) -> dict[int | str, dict[str, object]]:
    return {409: {"model": Problem, "description": what}}


def invalid(loc: tuple[str, ...], msg: str) -> RequestValidationError:
    """A 422 shaped like FastAPI's own (``detail: [{loc, msg, type}]``), as the schema says.

    For rules a field type cannot express (a date range, a tariff that must exist).
    """
    return RequestValidationError([{"loc": loc, "msg": msg, "type": "value_error"}])


def as_json_errors(
    responses: dict[int | str, dict[str, object]],
) -> dict[int | str, dict[str, object]]:
    """Error answers of a route whose success is not JSON (HTML, XML, PDF, CSV, JPEG).

    FastAPI documents a ``model`` response in the route's own media type; these errors are
    JSON whatever the route returns, so they name their content explicitly.
    """
    out: dict[int | str, dict[str, object]] = {}
    for code, spec in responses.items():
        if spec.get("model") is Problem:
            spec = {
                "description": spec.get("description", ""),
                "content": {"application/json": {"schema": {"$ref": PROBLEM_REF}}},
            }
        out[code] = spec
    return out


PROBLEM_REF = "#/components/schemas/Problem"
