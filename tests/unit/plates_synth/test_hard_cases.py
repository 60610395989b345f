"""Hard camera conditions and near-twin fleets in the plate simulator."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.cameras import SyntheticCamera
from simulator.plates import (
    HARD_CASES,
    fleet,
    is_valid_plate,
    near_twins,
    random_spec,
    render_frame,
    render_passage,
    spec_from_text,
)
from simulator.plates.strings import CONFUSABLE

PAIRS = {frozenset(p) for p in CONFUSABLE}


def key(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_near_twins_are_valid_plates_one_confusable_character_apart(seed: int) -> None:
    spec = random_spec(np.random.default_rng(seed))
    twins = near_twins(spec)
    assert len({t.text for t in twins}) == len(twins)
    for t in twins:
        assert is_valid_plate(t.text, t.layout) and t.layout == spec.layout
        diff = [(a, b) for a, b in zip(spec.text, t.text, strict=True) if a != b]
        assert len(diff) == 1 and frozenset(diff[0]) in PAIRS
        assert " ".join(t.lines) == t.text


def test_known_twins_of_a_motorbike_plate() -> None:
    twins = {t.text for t in near_twins(spec_from_text("59-K1 026.25"))}
    assert {"59-X1 026.25", "59-K7 026.25", "59-K1 028.25"} <= twins


def test_a_fleet_is_distinct_and_holds_near_twin_pairs() -> None:
    specs = fleet(np.random.default_rng(3), 400, twin_share=0.2)
    texts = [s.text for s in specs]
    assert len(texts) == 400 == len(set(texts))
    by_len: dict[int, list[str]] = {}
    for t in texts:
        by_len.setdefault(len(key(t)), []).append(key(t))
    pairs = sum(
        1
        for keys in by_len.values()
        for i, a in enumerate(keys)
        for b in keys[i + 1 :]
        if sum(x != y for x, y in zip(a, b, strict=True)) == 1
    )
    assert 20 <= pairs <= 60  # about 0.2 * 400 / 2 = 40 pairs


@pytest.mark.parametrize("hard", HARD_CASES)
def test_each_hard_case_renders_deterministically(hard: str) -> None:
    spec = spec_from_text("30A-123.45")
    a = render_frame(np.random.default_rng(9), spec, hard=hard)  # type: ignore[arg-type]
    b = render_frame(np.random.default_rng(9), spec, hard=hard)  # type: ignore[arg-type]
    plain = render_frame(np.random.default_rng(9), spec)
    assert a.hard == hard and a.jpeg == b.jpeg
    assert not np.array_equal(a.image, plain.image)
    assert a.night == (hard == "night")


def test_an_unknown_hard_case_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown hard case"):
        render_frame(np.random.default_rng(0), hard="fog")  # type: ignore[arg-type]


def test_a_dirty_plate_stays_the_same_dirt_over_a_passage() -> None:
    frames = render_passage(np.random.default_rng(4), 3, spec_from_text("51G-678.90"), hard="dirt")
    assert {f.hard for f in frames} == {"dirt"} and len({f.text for f in frames}) == 1


def test_the_camera_films_a_share_of_passages_under_a_hard_condition() -> None:
    cam = SyntheticCamera(1, seed=5, hard_share=0.5)
    seen = []
    for _ in range(30):
        jpegs, _ = cam.capture("30A-123.45")
        assert len(jpegs) == 1 and jpegs[0][:3] == b"\xff\xd8\xff"
        seen.append(cam.last_hard)
    assert 5 <= sum(h is not None for h in seen) <= 25
    assert {h for h in seen if h} <= set(HARD_CASES)
    never = SyntheticCamera(1, seed=5, hard_share=0.0)
    never.capture(None)
    assert never.last_hard is None
    with pytest.raises(ValueError, match="hard_share"):
        SyntheticCamera(hard_share=1.5)
