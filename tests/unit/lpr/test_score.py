"""Hypotheses and key scores (lpr.score, lpr.evidence) on scripted recognizer probabilities."""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpr.evidence import slots_from_columns
from lpr.grammar import LETTERS, PLATE_CHARS, plate_key, twins
from lpr.localize import PlateRegion
from lpr.reader import PlateReader
from lpr.score import (
    PLATE_LOGPRIOR,
    background_logprob,
    score_key,
    score_keys,
    shortlist,
)
from lpr.types import PlateRead
from tests.unit.lpr.test_vote import FRAME, WholeImage

CHARSET = "\x00" + "0123456789ABCDEFGHKLMNPRSTUVXYZ-."
NON_BLANK = len(CHARSET) - 1


def line_probs(text: str, sure: float, rival: dict[int, str] | None = None) -> np.ndarray:
    """CTC rows for `text`: each character over two steps, then a blank step.

    rival: position -> a character that takes (1 - sure) of that position's mass (a confusion);
    elsewhere the rest is spread evenly."""
    rows = []
    for i, ch in enumerate(text):
        row = np.full(len(CHARSET), (1 - sure) / NON_BLANK)
        if rival and i in rival:
            row[:] = 1e-6
            row[CHARSET.index(rival[i])] = 1 - sure
        row[CHARSET.index(ch)] = sure
        rows += [row / row.sum(), row / row.sum()]
        blank = np.full(len(CHARSET), 1e-5)
        blank[0] = 1.0
        rows.append(blank / blank.sum())
    return np.array(rows)


class Scripted:
    """Per call (one frame), the scripted text of each line."""

    name = "scripted"
    charset = CHARSET

    def __init__(self, frames: Sequence[Sequence[np.ndarray]]) -> None:
        self.frames = list(frames)

    def step_probs(self, lines: Sequence[np.ndarray]) -> list[np.ndarray]:
        out = list(self.frames.pop(0))
        assert len(out) == len(lines)
        return out


class TwoLineImage(WholeImage):
    def refine(self, crop: np.ndarray) -> PlateRegion:
        r = super().refine(crop)
        return PlateRegion(r.image, r.bbox, 2, r.colour, r.score)

    def locate(self, image: np.ndarray, max_regions: int = 3) -> list[PlateRegion]:
        return [self.refine(image)]


SQUARE = np.full((120, 160, 3), 255, np.uint8)


def read_lines(*frames: Sequence[np.ndarray]) -> PlateRead:
    two = len(frames[0]) == 2
    loc = TwoLineImage() if two else WholeImage()
    image = SQUARE if two else FRAME
    reader = PlateReader(Scripted(frames), loc, retry_below=0.0, craft_fallback=False)
    return reader.read([image] * len(frames), crop="frame")


def read_text(text: str, sure: float = 0.95, **kw: dict[int, str]) -> PlateRead:
    """One frame of a plate given by key-ish text: one line, or 'TOP BOTTOM' for two."""
    parts = text.split(" ")
    return read_lines([line_probs(p, sure, kw.get("rival")) for p in parts])


# -- evidence -------------------------------------------------------------------------------
def test_slots_follow_the_characters_and_keep_doubled_ones_apart() -> None:
    from lpr.evidence import plate_columns

    cols = plate_columns(line_probs("1999", 0.9), CHARSET)
    slots = slots_from_columns(cols)
    assert len(slots) == 4
    best = [PLATE_CHARS[int(np.argmax(m))] for _, m in slots]
    assert best == list("1999")


def test_a_faint_peak_is_an_optional_slot() -> None:
    from lpr.evidence import plate_columns

    probs = line_probs("12", 0.9)
    faint = np.full(len(CHARSET), 1e-5)
    faint[0], faint[CHARSET.index("7")] = 0.8, 0.2
    probs = np.vstack([probs, faint / faint.sum(), probs[-1:]])
    slots = slots_from_columns(plate_columns(probs, CHARSET))
    assert len(slots) == 3 and slots[2][0] == pytest.approx(0.2, abs=0.01)


def test_characters_no_plate_carries_are_folded_not_lost() -> None:
    from lpr.evidence import plate_columns

    charset = "\x00" + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    row = np.zeros(len(charset))
    row[charset.index("O")] = 1.0
    cols = plate_columns(row[None, :], charset)
    assert cols.sum() == pytest.approx(1.0)
    assert cols[0, 1 + PLATE_CHARS.index("0")] == pytest.approx(0.5)
    assert cols[0, 1 + PLATE_CHARS.index("D")] == pytest.approx(0.5)


# -- hypotheses -----------------------------------------------------------------------------
def test_hypotheses_are_ranked_by_the_same_score_as_any_key() -> None:
    r = read_text("30A12845", 0.7, rival={5: "B"})
    assert r.hypotheses, r
    assert r.hypotheses[0].key == r.key == "30A12845"
    assert r.hypotheses[0].text == "30A-128.45"
    logps = [h.logprob for h in r.hypotheses]
    assert logps == sorted(logps, reverse=True)
    for h in r.hypotheses:
        assert score_key(r, h.key) == pytest.approx(h.logprob)
        assert score_key(r, h.text) == pytest.approx(h.logprob)  # text or key, same plate
    assert len(r.evidence) == 1 and r.confidence == pytest.approx(r.confidence)


def test_two_line_plates_score_across_the_line_cut() -> None:
    r = read_text("59K1 02625", 0.9)
    assert r.key == "59K102625" and r.lines == 2
    assert r.hypotheses[0].key == "59K102625"
    assert score_key(r, "59K102625") > max(score_key(r, plate_key(t)) for t in twins(r.text or ""))
    # The same plate on a long one-line car plate has the same key, hence the same score.
    assert score_key(r, "59-K1 026.25") == score_key(r, "59K102625")


def test_frames_add_up_as_independent_evidence() -> None:
    a = line_probs("30A12345", 0.9)
    b = line_probs("30A12845", 0.6)
    both = read_lines([a], [b])
    one, two = read_lines([a]), read_lines([b])
    for key in ("30A12345", "30A12845", "51G99999", "30A1234"):
        assert score_key(both, key) == pytest.approx(score_key(one, key) + score_key(two, key))
    assert len(both.evidence) == 2
    assert both.hypotheses[0].key == "30A12345"


def test_one_garbage_frame_cannot_outvote_the_others() -> None:
    good = line_probs("90LD89282", 0.9)
    garbage = line_probs("80Z1692", 0.97)  # the wrong region of one frame, read with confidence
    r = read_lines([good], [garbage], [good])
    assert r.hypotheses[0].key == "90LD89282"
    from lpr.score import OUTLIER, frame_score

    bad = r.evidence[1]
    idx = [PLATE_CHARS.index(c) for c in "90LD89282"]
    assert frame_score(bad, idx) >= bad.ceiling + OUTLIER
    # ...while a real one-character difference still costs on every good frame.
    assert score_key(r, "90LD89282") - score_key(r, "90LD89283") > 4


def test_a_missed_or_extra_character_costs_but_is_not_ruled_out() -> None:
    missing = read_text("30A1245", 0.95)  # the recognizer never saw the "3" of 30A-123.45
    truth = score_key(missing, "30A12345")
    assert math.isfinite(truth)
    assert truth < score_key(missing, "30A1245")
    assert truth > score_key(missing, "30A99999") + 5
    extra = read_text("30A123457", 0.95)
    assert score_key(extra, "30A12345") > score_key(extra, "30A99999") + 5


def test_no_evidence_scores_every_key_alike() -> None:
    empty = PlateRead(None, None, 0.0, False, "other", 0, None)
    assert score_key(empty, "30A12345") == score_key(empty, "51G99999") == 0.0
    assert background_logprob(empty) == PLATE_LOGPRIOR
    assert shortlist(empty, ["30A12345"], 3) == [("30A12345", 0.0)]


def test_background_is_the_plate_prior_mixture_over_the_hypotheses() -> None:
    r = read_text("30A12345", 0.9)
    best = r.hypotheses[0].logprob
    bg = background_logprob(r)
    assert PLATE_LOGPRIOR + best <= bg <= PLATE_LOGPRIOR + best + math.log(len(r.hypotheses))
    assert background_logprob(r, log_prior=0.0) == pytest.approx(bg - PLATE_LOGPRIOR)


def test_shortlist_ranks_a_batch_best_first() -> None:
    r = read_text("30A12345", 0.9)
    keys = ["51G99999", "30A-123.46", "30A12345", "30A12345", "29B11111", "80A12345"]
    top = shortlist(r, keys, k=3)
    assert top[0][0] == "30A12345"
    assert len(top) == 3 and len({k for k, _ in top}) == 3
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    assert score_keys(r, ["30A12345", "51G99999"]) == pytest.approx(
        [score_key(r, "30A12345"), score_key(r, "51G99999")], abs=1e-9
    )


@settings(max_examples=40, deadline=None)
@given(keys=st.lists(st.text(PLATE_CHARS + "-. IO", max_size=12), max_size=20))
def test_the_batch_scores_are_the_one_by_one_scores(keys: list[str]) -> None:
    for r in (READ_TWO_LINES, READ_TWO_FRAMES):
        assert score_keys(r, keys) == pytest.approx([score_key(r, k) for k in keys], abs=1e-9)


READ_TWO_LINES = read_text("59K1 02625", 0.8)
READ_TWO_FRAMES = read_lines([line_probs("30A12345", 0.9)], [line_probs("30A1245", 0.7)])


def test_a_read_with_its_evidence_survives_pickling() -> None:
    r = read_text("59K1 02625", 0.8)
    back = pickle.loads(pickle.dumps(r))
    assert back == r
    assert score_key(back, "59K102625") == score_key(r, "59K102625")


# -- properties -----------------------------------------------------------------------------
PROV = st.integers(11, 99).map(str)
SERIES = st.sampled_from(LETTERS)
NUMBER = st.text("0123456789", min_size=5, max_size=5)


@settings(max_examples=60, deadline=None)
@given(prov=PROV, series=SERIES, number=NUMBER, sure=st.floats(0.55, 0.99))
def test_the_true_key_scores_above_its_one_character_twins(
    prov: str, series: str, number: str, sure: float
) -> None:
    text = f"{prov}{series}-{number[:3]}.{number[3:]}"
    r = read_text(plate_key(text), sure)
    truth = score_key(r, plate_key(text))
    for twin in twins(text):
        assert truth > score_key(r, plate_key(twin)), twin


@settings(max_examples=200, deadline=None)
@given(key=st.text(st.characters(codec="utf-8"), max_size=30))
def test_any_key_scores_finite(key: str) -> None:
    r = read_text("59K1 02625", 0.9)
    assert math.isfinite(score_key(r, key))
    assert math.isfinite(score_key(read_text("30A12345", 0.9), key))
