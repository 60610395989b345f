"""Amounts in Vietnamese words are read back to numbers (several accepted spellings)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from num2words import num2words

from einvoice.words import amount_in_words
from simulator.tax_authority.words import parse_amount, spell, words_match


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("Hai mươi lăm nghìn đồng", 25_000),
        ("hai mươi lăm ngàn đồng chẵn", 25_000),
        ("Mười lăm nghìn đồng", 15_000),
        ("Hai mươi mốt nghìn đồng", 21_000),
        ("Hai mươi tư nghìn đồng", 24_000),
        ("Một trăm lẻ năm nghìn đồng", 105_000),
        ("Một trăm linh năm nghìn đồng", 105_000),
        ("Một triệu không trăm năm mươi nghìn đồng", 1_050_000),
        ("Một triệu năm nghìn đồng", 1_005_000),
        ("Ba trăm nghìn đồng", 300_000),
        ("Hai tỷ không trăm linh một triệu đồng", 2_001_000_000),
        ("Một nghìn tỷ đồng", 1_000_000_000_000),
        ("Không đồng", 0),
        ("Âm hai mươi lăm nghìn đồng", -25_000),
        ("Năm nghìn Việt Nam đồng", 5_000),
    ],
)
def test_hand_checked_amounts(text: str, amount: int) -> None:
    assert parse_amount(text) == amount


@pytest.mark.parametrize(
    "text", ["", "đồng", "hai hai nghìn", "mươi nghìn", "twenty five", "trăm đồng"]
)
def test_not_an_amount(text: str) -> None:
    assert parse_amount(text) is None


def test_words_must_spell_the_total() -> None:
    assert words_match("Hai mươi lăm nghìn đồng", 25_000)
    assert not words_match("Hai mươi sáu nghìn đồng", 25_000)
    assert not words_match(None, 25_000)
    assert spell(25_000) == "Hai mươi lăm nghìn đồng"


@given(st.integers(min_value=0, max_value=999_999_999_999))
def test_reads_num2words_back(n: int) -> None:
    assert parse_amount(num2words(n, lang="vi") + " đồng") == n


@given(st.integers(min_value=-99_999_999_999, max_value=999_999_999_999))
def test_reads_the_invoice_builders_words_back(n: int) -> None:
    assert parse_amount(amount_in_words(n)) == n
