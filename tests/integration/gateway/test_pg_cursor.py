"""gateway.pg_cursor: PostgreSQL results described only when read, the same as psycopg's own."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from bench.billing_raw import plain_url
from gateway.db import make_engine
from gateway.pg_cursor import LazyDescription, LazyDescriptionCursor

pytestmark = pytest.mark.integration

QUERY = "SELECT 1 AS one, 'x'::varchar(5) AS letter, now() AS at, NULL::json AS doc"


def test_the_description_matches_psycopgs_own(pg_url: str) -> None:
    with (
        psycopg.connect(plain_url(pg_url)) as plain,
        psycopg.connect(plain_url(pg_url), cursor_factory=LazyDescriptionCursor) as lazy,
    ):
        expected = plain.execute(QUERY).description
        cur = lazy.execute(QUERY)
        got = cur.description
        assert isinstance(got, LazyDescription)
        assert expected is not None and len(got) == len(expected) == 4
        assert [tuple(c) for c in got] == [tuple(c) for c in expected]
        assert got[1].name == "letter" and got[-1].name == "doc"
        assert [c.name for c in got[1:3]] == ["letter", "at"]
        # statements without rows have none, as with psycopg's cursor
        assert lazy.execute("SET search_path TO public").description is None
        no_column = lazy.execute("SELECT").description  # rows of no column: empty, not None
        assert no_column is not None and len(no_column) == 0 and not no_column


def test_a_description_read_late_still_describes_its_own_result(pg_url: str) -> None:
    with psycopg.connect(plain_url(pg_url), cursor_factory=LazyDescriptionCursor) as conn:
        cur = conn.cursor()
        first = cur.execute("SELECT 1 AS a, 2 AS b").description
        cur.execute("SELECT 'z' AS other")
        assert first is not None
        assert [c.name for c in first] == ["a", "b"]


def test_engines_use_it_and_results_read_by_name(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            assert isinstance(cursor, LazyDescriptionCursor)
            cursor.close()
            row = conn.execute(text(QUERY)).one()
            assert (row.one, row.letter, row.doc) == (1, "x", None)
            assert list(conn.execute(text(QUERY)).keys()) == ["one", "letter", "at", "doc"]
    finally:
        engine.dispose()
