from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from einvoice import numbering
from einvoice.db import counters


def test_counter_starts_at_one_and_counts_up(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        got = [numbering.next_invoice_number(s, "1", "C26MPK", 2026) for _ in range(5)]
    assert got == [1, 2, 3, 4, 5]
    with session_factory.begin() as s:  # a new transaction (a restart) continues the sequence
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2026) == 6


def test_each_template_series_year_has_its_own_counter(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as s:
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2026) == 1
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2026) == 2
        assert numbering.next_invoice_number(s, "1", "C26MAB", 2026) == 1
        assert numbering.next_invoice_number(s, "2", "C26MPK", 2026) == 1
        # New year, new counter: numbering restarts at 1.
        assert numbering.next_invoice_number(s, "1", "C27MPK", 2027) == 1


def test_rolled_back_transaction_burns_no_number(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2026) == 1
    with pytest.raises(RuntimeError), session_factory.begin() as s:
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2026) == 2
        raise RuntimeError("signing failed")
    with session_factory.begin() as s:
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2026) == 2
        rows = s.execute(select(counters.c.last_number)).scalars().all()
    assert rows == [2]


def test_number_above_eight_digits_is_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        s.execute(
            counters.insert().values(
                template="1", series="C26MPK", year=2026, last_number=numbering.MAX_NUMBER - 1
            )
        )
    with session_factory.begin() as s:
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2026) == numbering.MAX_NUMBER
    with pytest.raises(numbering.NumberingError), session_factory.begin() as s:
        numbering.next_invoice_number(s, "1", "C26MPK", 2026)


@pytest.mark.parametrize(
    ("hint", "mode", "year", "expected"),
    [
        ("PK", "cash_register", 2026, "C26MPK"),
        ("pk", "authority_coded", 2026, "C26TPK"),
        ("C25MAA", "cash_register", 2026, "C26MAA"),
        ("C26MAA", "authority_coded", 2027, "C27TAA"),
        ("AB", "cash_register", 2100, "C00MAB"),
    ],
)
def test_series_symbol(hint: str, mode: str, year: int, expected: str) -> None:
    assert numbering.series_symbol(hint, mode, year) == expected


@pytest.mark.parametrize(("hint", "mode"), [("P1", "cash_register"), ("PK", "paper")])
def test_series_symbol_refuses_bad_input(hint: str, mode: str) -> None:
    with pytest.raises(numbering.NumberingError):
        numbering.series_symbol(hint, mode, 2026)


def test_cash_register_mccqt_is_23_characters_and_ascending(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as s:
        first = numbering.cash_register_mccqt(s, "1", 2026, "41849")
        second = numbering.cash_register_mccqt(s, "1", 2026, "41849")
        other_year = numbering.cash_register_mccqt(s, "1", 2027, "41849")
    assert first == "M1-26-41849-00000000001"
    assert second == "M1-26-41849-00000000002"
    assert other_year == "M1-27-41849-00000000001"
    assert len(first) == 23
    # The MCCQT sequence is separate from invoice numbers of any series.
    with session_factory.begin() as s:
        assert numbering.next_invoice_number(s, "1", "C26MPK", 2026) == 1


def test_format_mccqt_matches_the_documented_example() -> None:
    assert numbering.format_mccqt("1", 2026, "41849", 100000006) == "M1-26-41849-00100000006"


def test_bad_register_code_is_refused(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(numbering.NumberingError), session_factory.begin() as s:
        numbering.cash_register_mccqt(s, "1", 2026, "4184")
