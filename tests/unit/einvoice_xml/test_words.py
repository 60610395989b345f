"""Totals in words, each checked by hand against how Vietnamese invoices write them."""

from __future__ import annotations

import pytest

from einvoice.words import amount_in_words, number_in_words


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (25_000, "Hai mươi lăm nghìn đồng"),
        (0, "Không đồng"),
        (5_000, "Năm nghìn đồng"),
        (15_000, "Mười lăm nghìn đồng"),
        (21_000, "Hai mươi mốt nghìn đồng"),
        (35_500, "Ba mươi lăm nghìn năm trăm đồng"),
        (105_000, "Một trăm lẻ năm nghìn đồng"),
        (110_000, "Một trăm mười nghìn đồng"),
        (1_000_000, "Một triệu đồng"),
        (1_050_000, "Một triệu không trăm năm mươi nghìn đồng"),
        (1_005_000, "Một triệu không trăm lẻ năm nghìn đồng"),
        (1_000_005, "Một triệu không trăm lẻ năm đồng"),
        (2_345_678, "Hai triệu ba trăm bốn mươi lăm nghìn sáu trăm bảy mươi tám đồng"),
        (1_005_000_000, "Một tỷ không trăm lẻ năm triệu đồng"),
        (2_000_000_001, "Hai tỷ không trăm lẻ một đồng"),
        (-18_000, "Âm mười tám nghìn đồng"),
    ],
)
def test_amounts_in_words(amount: int, words: str) -> None:
    assert amount_in_words(amount) == words


def test_number_in_words_is_lower_case() -> None:
    assert number_in_words(25_000) == "hai mươi lăm nghìn"


@pytest.mark.parametrize("bad", [25000.0, "25000", True])
def test_money_must_be_an_integer(bad: object) -> None:
    with pytest.raises(TypeError):
        amount_in_words(bad)  # type: ignore[arg-type]
