import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.plates import is_valid_plate, random_spec, spec_from_text


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_random_specs_follow_the_plate_syntax(seed):
    spec = random_spec(np.random.default_rng(seed))
    assert is_valid_plate(spec.text, spec.layout)
    assert " ".join(spec.lines) == spec.text
    assert len(spec.lines) == (1 if spec.layout == "long" else 2)
    assert spec.kind == ("motorbike" if spec.layout == "motorbike" else "car")


def test_every_layout_and_colour_is_generated():
    rng = np.random.default_rng(0)
    specs = [random_spec(rng) for _ in range(2000)]
    assert {s.layout for s in specs} == {"long", "square", "motorbike"}
    assert {s.colour for s in specs} == {"white", "yellow", "blue"}
    texts = [s.text for s in specs]
    assert any("-MD" in t for t in texts)  # electric motorbike series
    assert any(t.split(" ")[-1].isdigit() for t in texts if " " in t)  # old 4-digit numbers
    assert any(t[2:4].isalpha() and t[4] == "-" for t in texts)  # two-letter car series
    for s in specs:
        assert not set(s.key) & set("IJOQW")


@pytest.mark.parametrize(
    ("text", "layout"),
    [
        ("30A-123.45", "long"),
        ("29A-1234", "long"),
        ("30A 123.45", "square"),
        ("29-B1 678.90", "motorbike"),
        ("29-AA 123.45", "motorbike"),
        ("29-MD1 311.00", "motorbike"),
        ("51-R5 6273", "motorbike"),
        ("60LD-005.84", "long"),
    ],
)
def test_spec_from_text_accepts_real_shapes(text, layout):
    spec = spec_from_text(text)
    assert spec.layout == layout
    assert spec.dstroke == ("-MD" in text)


@pytest.mark.parametrize("text", ["30I-123.45", "10A-123.45", "29-B0 678.90", "30A-12.345", ""])
def test_spec_from_text_rejects_invalid(text):
    with pytest.raises(ValueError, match="not a valid"):
        spec_from_text(text)
