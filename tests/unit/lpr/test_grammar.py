from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lpr.grammar import (
    LETTERS,
    PROVINCES,
    Plate,
    PlateSyntaxError,
    from_key,
    is_valid,
    normalize,
    parse,
    plate_key,
)


@pytest.mark.parametrize(
    ("raw", "canonical", "layout"),
    [
        ("30A-123.45", "30A-123.45", "car"),
        ("29A-1234", "29A-1234", "car"),
        ("30a 12345", "30A 123.45", "car_square"),
        ("50LD 004.54", "50LD 004.54", "car_square"),
        ("60LD-005.84", "60LD-005.84", "car"),
        ("29-B1 678.90", "29-B1 678.90", "motorbike"),
        ("29 - b1   67890", "29-B1 678.90", "motorbike"),
        ("29-AA 123.45", "29-AA 123.45", "motorbike"),
        ("29-MĐ1 311.00", "29-MD1 311.00", "motorbike"),
        ("29-Mđ1 311.00", "29-MD1 311.00", "motorbike"),
        ("51-R5 6273", "51-R5 6273", "motorbike"),
        ("51R-123.45", "51R-123.45", "car"),
        ("51RM-123.45", "51RM-123.45", "car"),
    ],
)
def test_parse_canonical(raw: str, canonical: str, layout: str) -> None:
    plate = parse(raw)
    assert plate.text == canonical
    assert plate.layout == layout
    assert plate.key == plate_key(canonical)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "10A-123.45",  # province 10 does not exist
        "09A-123.45",
        "30I-123.45",  # I, O, Q, W are never series letters
        "30O-123.45",
        "30Q-123.45",
        "30W-123.45",
        "30A-123.4",  # dotted number with 4 digits: a digit was dropped
        "30A-12345678",
        "30A 1234.5",
        "29-B0 678.90",  # motorbike series digit is 1-9
        "29-BBB 678.90",
        "30R 123.45",  # R (trailers) is not a square-plate series
        "ABC-123.45",
    ],
)
def test_rejects_what_the_syntax_does_not_admit(bad: str) -> None:
    assert not is_valid(bad)
    with pytest.raises(PlateSyntaxError):
        parse(bad)


def test_normalize_d_stroke_case_and_blanks() -> None:
    assert normalize(" 29-mđ1\t311.00 ") == "29-MD1 311.00"
    assert normalize("30a – 123 . 45") == "30A-123.45"  # a typed dash is a hyphen
    assert normalize("30a #  123,45") == "30A 12345"  # other signs dropped, one blank kept


def test_key_matches_long_and_square_forms() -> None:
    assert plate_key("30A-123.45") == plate_key("30A 123.45") == "30A12345"
    assert parse("30A-123.45").key == parse("30A 123.45").key


def test_province_table() -> None:
    assert {"29", "30", "40", "41", "50", "59", "99"} <= PROVINCES
    assert "13" not in PROVINCES and "10" not in PROVINCES
    assert not parse("13A-123.45").province_known  # admitted by syntax, flagged by the table
    assert parse("30A-123.45").province_known
    assert set("IJOQW").isdisjoint(LETTERS)


def test_kind_and_lines() -> None:
    assert (parse("30A-123.45").kind, parse("30A-123.45").lines) == ("car", 1)
    assert (parse("30A 123.45").kind, parse("30A 123.45").lines) == ("car", 2)
    assert (parse("29-B1 678.90").kind, parse("29-B1 678.90").lines) == ("motorbike", 2)


def test_from_key_lists_every_reading_of_an_ambiguous_key() -> None:
    plates = from_key("29MD12345", "motorbike")
    assert {p.text for p in plates} == {"29-MD 123.45", "29-MD1 2345"}


# --- property tests: generate plates from the tables ------------------------------------
provinces = st.integers(11, 99).map(lambda n: f"{n:02d}")
letter = st.sampled_from(LETTERS)
number = st.one_of(
    st.text("0123456789", min_size=4, max_size=4), st.text("0123456789", min_size=5, max_size=5)
)
car_series = st.one_of(letter, st.tuples(letter, letter).map("".join), st.sampled_from(["R", "RM"]))
square_series = st.one_of(letter, st.tuples(letter, letter).map("".join))
moto_series = st.one_of(
    st.tuples(st.sampled_from(LETTERS + "R"), st.sampled_from("123456789")).map("".join),
    st.tuples(letter, letter).map("".join),
    st.sampled_from("123456789").map(lambda d: "MD" + d),
)
plates = st.one_of(
    st.builds(Plate, provinces, car_series, number, st.just("car")),
    st.builds(Plate, provinces, square_series, number, st.just("car_square")),
    st.builds(Plate, provinces, moto_series, number, st.just("motorbike")),
)


@given(plates)
def test_canonical_round_trip(plate: Plate) -> None:
    assert parse(plate.text) == plate
    assert parse(plate.text).text == plate.text
    assert plate_key(plate.text) == plate.key


@given(plates)
def test_key_round_trip(plate: Plate) -> None:
    assert plate in from_key(plate.key, plate.layout)
    assert all(p.key == plate.key for p in from_key(plate.key, plate.layout))


@given(plates)
def test_loose_writing_normalizes_to_the_same_plate(plate: Plate) -> None:
    loose = plate.text.lower().replace("-", " - ").replace(" ", "  ")
    assert parse(loose) == plate
