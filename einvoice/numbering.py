"""Invoice numbers without gaps or duplicates, and the symbols they hang on.

A number is taken by one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on the counter row
of (template, series, year), inside the caller's transaction. On PostgreSQL the statement locks
that row until the transaction ends, so a second worker waits for the first to commit (then gets
the next number) or roll back (then gets the same number again): a failed transaction burns
nothing, and numbers follow commit order. SQLite serializes writers at ``BEGIN IMMEDIATE``.
A new year is a new counter row, so numbering restarts at 1.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from einvoice.db import AUTHORITY_CODED, CASH_REGISTER, counters

MAX_NUMBER = 99_999_999  # SHDon has at most 8 digits
MAX_MCCQT_SEQUENCE = 99_999_999_999  # 11 digits
_SUFFIX = re.compile(r"^[A-Z]{2}$")
_REGISTER_CODE = re.compile(r"^[0-9A-Z]{5}$")


class NumberingError(ValueError):
    """The symbols or the counter cannot give a valid number."""


def next_value(db: Session | Connection, template: str, series: str, year: int) -> int:
    """Take the next value of the (template, series, year) counter in the open transaction."""
    dialect = db.get_bind().dialect.name if isinstance(db, Session) else db.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    if dialect not in ("postgresql", "sqlite"):
        raise NumberingError(f"numbering supports PostgreSQL and SQLite, not {dialect}")
    upsert = insert(counters).values(template=template, series=series, year=year, last_number=1)
    stmt = upsert.on_conflict_do_update(
        index_elements=[counters.c.template, counters.c.series, counters.c.year],
        set_={"last_number": counters.c.last_number + 1},
    ).returning(counters.c.last_number)
    value = db.execute(stmt).scalar_one()
    return int(value)


def next_invoice_number(db: Session | Connection, template: str, series: str, year: int) -> int:
    number = next_value(db, template, series, year)
    if number > MAX_NUMBER:
        raise NumberingError(f"series {series} of {year} is full ({MAX_NUMBER} invoices)")
    return number


def series_symbol(hint: str, mode: str, year: int) -> str:
    """The 6-character KHHDon for an issue year: ``C`` + yy + ``M``/``T`` + 2 seller letters.

    ``hint`` is the seller's configured series: either the two letters (``PK``) or a whole
    symbol (``C25MPK``) whose year and type letter are replaced by the current ones, so a
    configuration written last year still yields this year's series.
    """
    suffix = hint.strip().upper()[-2:]
    if not _SUFFIX.match(suffix):
        raise NumberingError(f"series {hint!r} must end in two letters A-Z")
    if mode == CASH_REGISTER:
        letter = "M"
    elif mode == AUTHORITY_CODED:
        letter = "T"
    else:
        raise NumberingError(f"unknown invoice mode {mode!r}")
    return f"C{year % 100:02d}{letter}{suffix}"


def template_symbol(template: str | int) -> str:
    value = str(template).strip()
    if value not in ("1", "2"):
        raise NumberingError(f"template {template!r} must be 1 (VAT) or 2 (sales)")
    return value


def cash_register_mccqt(
    db: Session | Connection, template: str, year: int, register_code: str
) -> str:
    """A seller-made 23-character MCCQT with the next value of the register's own sequence.

    ``M`` + template + ``-`` + yy + ``-`` + 5-character register code + ``-`` + 11 digits, e.g.
    ``M1-26-41849-00100000006``. The sequence is a counter like the invoice numbers, so it is
    gapless and unique per register code and year.
    """
    code = register_code.strip().upper()
    if not _REGISTER_CODE.match(code):
        raise NumberingError(f"cash-register code {register_code!r} must be 5 letters/digits")
    sequence = next_value(db, f"MCCQT{template}", code, year)
    if sequence > MAX_MCCQT_SEQUENCE:
        raise NumberingError(f"cash-register sequence of {code} for {year} is exhausted")
    return format_mccqt(template, year, code, sequence)


def format_mccqt(template: str, year: int, register_code: str, sequence: int) -> str:
    value = f"M{template}-{year % 100:02d}-{register_code}-{sequence:011d}"
    assert len(value) == 23, value
    return value
