"""Grammar-constrained decoding on hand-made CTC probability matrices."""

from __future__ import annotations

import numpy as np
import pytest

from lpr.assemble import assemble, grammars_for
from lpr.decode import COLUMNS, FOLD_WEIGHT, decode_line, greedy_text, to_plate_columns
from lpr.grammar import BOTTOM_LINE, ONE_LINE, TOP_LINE, LineGrammar

CHARSET = "\x00" + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-."


def frames(*steps: dict[str, float]) -> np.ndarray:
    """One row per step; unspecified mass goes to the blank; each char is followed by a blank."""
    rows = []
    for step in steps:
        row = np.full(len(CHARSET), 1e-6)
        for ch, p in step.items():
            row[CHARSET.index(ch)] = p
        row[0] = max(1e-6, 1.0 - sum(step.values()))
        rows.append(row / row.sum())
        blank = np.full(len(CHARSET), 1e-6)
        blank[0] = 1.0
        rows.append(blank / blank.sum())
    return np.array(rows)


def text_of(s: str) -> np.ndarray:
    return frames(*({c: 0.98} for c in s))


def best(probs: np.ndarray, grammar: LineGrammar) -> str:
    d = decode_line(to_plate_columns(probs, CHARSET), grammar)
    return d.candidates[0].text if d.candidates else ""


def test_clean_read_passes_through() -> None:
    assert best(text_of("29-B1"), TOP_LINE) == "29B1"
    assert best(text_of("678.90"), BOTTOM_LINE) == "67890"
    assert best(text_of("30A-123.45"), ONE_LINE) == "30A12345"


def test_separators_are_not_characters() -> None:
    cols = to_plate_columns(text_of("30A-123.45"), CHARSET)
    assert greedy_text(cols) == "30A12345"


def test_classes_that_are_no_plate_character_are_dropped_from_a_large_charset() -> None:
    # A stock recognizer's charset: plate characters among thousands of others (CJK, lower case).
    big = "\x00" + "".join(chr(0x4E00 + i) for i in range(300)) + CHARSET[1:] + "abcd"
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(len(big)), size=7)
    cols = to_plate_columns(probs, big)
    small = to_plate_columns(
        np.hstack([probs[:, :1], probs[:, 301 : 301 + len(CHARSET) - 1]]), CHARSET
    )
    lower = {c: big.index(c) for c in "abcd"}

    def col(ch: str) -> int:
        return 1 + COLUMNS.index(ch)

    # Same as the plate-only charset, plus lower case folded onto upper case.
    for ch, i in lower.items():
        small[:, col(ch.upper())] += probs[:, i]
    small[:, col("4")] += FOLD_WEIGHT * probs[:, lower["a"]]  # a -> A, and A folds onto 4
    small[:, col("8")] += FOLD_WEIGHT * probs[:, lower["b"]]
    small[:, col("0")] += FOLD_WEIGHT * probs[:, lower["d"]]
    assert cols.shape == (7, small.shape[1])
    np.testing.assert_allclose(cols, small, rtol=1e-5, atol=1e-7)


def test_second_best_character_is_recovered_at_a_digit_position() -> None:
    # The recognizer prefers the letter B where the number needs a digit; 8 is its runner-up.
    probs = frames({"6": 0.98}, {"7": 0.98}, {"B": 0.6, "8": 0.35}, {"9": 0.98}, {"0": 0.98})
    assert best(probs, BOTTOM_LINE) == "67890"


def test_look_alike_letter_becomes_the_digit_the_position_needs() -> None:
    # Only 'O' has mass at the fourth step: the digit class turns it into 0.
    probs = frames({"1": 0.98}, {"2": 0.98}, {"3": 0.98}, {"O": 0.97})
    assert best(probs, BOTTOM_LINE) == "1230"


def test_look_alike_digit_becomes_the_series_letter() -> None:
    # "308" as the top line of a square car plate: the series must be a letter, 8 -> B.
    probs = frames({"3": 0.98}, {"0": 0.98}, {"8": 0.97})
    assert best(probs, TOP_LINE) == "30B"


def test_series_digit_is_not_folded_away_when_the_recognizer_saw_a_digit() -> None:
    # Both 29-B1 (letter+digit) and 29-BT (two letters) are admitted; the read says 1.
    assert best(text_of("29B1"), TOP_LINE) == "29B1"


def test_province_10_is_never_produced() -> None:
    probs = frames({"1": 0.98}, {"0": 0.7, "6": 0.25}, {"A": 0.98}, *({c: 0.98} for c in "12345"))
    assert best(probs, ONE_LINE) == "16A12345"


def test_forbidden_series_letter_is_replaced_by_the_best_admitted_one() -> None:
    # O is never a series letter; D is its look-alike and the admitted runner-up.
    probs = frames({"3": 0.98}, {"0": 0.98}, {"O": 0.9, "D": 0.05}, *({c: 0.98} for c in "1234"))
    assert best(probs, ONE_LINE) == "30D1234"


def test_nothing_admitted_gives_no_candidates() -> None:
    probs = text_of("AB")  # two letters can never be a number line
    assert decode_line(to_plate_columns(probs, CHARSET), BOTTOM_LINE).candidates == ()


def test_candidates_are_ranked_and_scored() -> None:
    probs = frames({"5": 0.98}, {"9": 0.98}, {"M": 0.55, "V": 0.4}, {"1": 0.98})
    d = decode_line(to_plate_columns(probs, CHARSET), TOP_LINE)
    texts = [c.text for c in d.candidates]
    assert texts[0] == "59M1" and "59V1" in texts
    assert d.candidates[0].logp > d.candidates[1].logp


def test_two_lines_assemble_into_a_motorbike_or_square_plate() -> None:
    top = decode_line(to_plate_columns(text_of("29-B1"), CHARSET), TOP_LINE)
    bottom = decode_line(to_plate_columns(text_of("678.90"), CHARSET), BOTTOM_LINE)
    plates = assemble([top, bottom])
    assert plates[0].plate.text == "29-B1 678.90"
    square = decode_line(to_plate_columns(text_of("30A"), CHARSET), TOP_LINE)
    assert assemble([square, bottom])[0].plate.text == "30A 678.90"


def test_grammars_for_line_count() -> None:
    assert grammars_for(1) == (ONE_LINE,)
    assert grammars_for(2) == (TOP_LINE, BOTTOM_LINE)


def test_mismatched_charset_is_an_error() -> None:
    with pytest.raises(ValueError, match="charset"):
        to_plate_columns(np.ones((5, 3)), CHARSET)
