"""psycopg's cursor with a ``description`` whose columns are described only when read.

psycopg builds one ``Column`` object per result column (decoding its name, looking up its type)
every time ``cursor.description`` is read. SQLAlchemy reads it once per statement, but only to
see that rows came back: the result's column metadata is cached with the compiled statement. A
settlement's look-ups return about 40 columns per settled exit, and building their ``Column``
objects cost about 5 % of a settlement's CPU (issue 14). Here the description is a sequence of
the same length whose ``Column`` objects are built on first use, from the result it was taken
from. :func:`gateway.db.make_engine` gives it to every PostgreSQL connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import psycopg
from psycopg import pq

_ROWS = frozenset(
    status
    for status in (
        getattr(pq.ExecStatus, name, None) for name in ("TUPLES_OK", "SINGLE_TUPLE", "TUPLES_CHUNK")
    )
    if status is not None
)


class _ResultOf:
    """What ``psycopg.Column`` reads from its cursor, held for one result."""

    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, cursor: psycopg.Cursor[Any], pgresult: pq.abc.PGresult) -> None:
        self.pgresult = pgresult
        self.adapters = cursor.adapters
        self._encoding = cursor._encoding


class LazyDescription(Sequence[psycopg.Column]):
    """``cursor.description``: the same columns, described when first read."""

    __slots__ = ("_columns", "_cursor", "_pgresult")

    def __init__(self, cursor: psycopg.Cursor[Any], pgresult: pq.abc.PGresult) -> None:
        self._cursor = cursor
        self._pgresult = pgresult
        self._columns: list[psycopg.Column] | None = None

    def _described(self) -> list[psycopg.Column]:
        if self._columns is None:
            # from the result this description was taken from, even if the cursor moved on
            result_of: Any = _ResultOf(self._cursor, self._pgresult)
            self._columns = [psycopg.Column(result_of, i) for i in range(self._pgresult.nfields)]
        return self._columns

    def __len__(self) -> int:
        return self._pgresult.nfields

    @overload
    def __getitem__(self, index: int) -> psycopg.Column: ...

    @overload
    def __getitem__(self, index: slice) -> list[psycopg.Column]: ...

    def __getitem__(self, index: int | slice) -> psycopg.Column | list[psycopg.Column]:
        return self._described()[index]

    def __iter__(self) -> Iterator[psycopg.Column]:
        return iter(self._described())

    def __repr__(self) -> str:
        return repr(self._described())


class LazyDescriptionCursor(psycopg.Cursor[Any]):
    """``psycopg.Cursor`` whose :attr:`description` is a :class:`LazyDescription`."""

    @property
    def description(self) -> LazyDescription | None:  # type: ignore[override]
        res = self.pgresult
        if res is not None and (res.nfields or res.status in _ROWS):
            return LazyDescription(self, res)
        return None


__all__ = ["LazyDescription", "LazyDescriptionCursor"]
