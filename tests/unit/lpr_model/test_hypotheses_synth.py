"""The real reader's hypotheses and key scores on synthetic plates (simulator.plates)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lpr.grammar import plate_key, twins
from lpr.reader import PlateReader
from lpr.score import background_logprob, score_key
from simulator.plates import HARD_CASES, random_spec, render_passage, render_plate


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    r = PlateReader("auto", craft_fallback=False)
    r.warm_up()
    return r


def test_clean_crops_the_true_key_scores_above_its_twins(reader: PlateReader) -> None:
    rng = np.random.default_rng(20261206)
    beaten, total = 0, 0
    for _ in range(10):
        spec = random_spec(rng)
        image = render_plate(spec, rng, height=120).image
        read = reader.read([image], crop="frame")
        truth = score_key(read, spec.key)
        assert math.isfinite(truth)
        assert read.hypotheses and read.hypotheses[0].logprob == pytest.approx(
            max(h.logprob for h in read.hypotheses)
        )
        rivals = [score_key(read, plate_key(t)) for t in twins(spec.text)]
        total += 1
        beaten += all(truth > r for r in rivals)
    assert beaten >= total - 1


def test_hard_passages_keep_the_truth_among_the_hypotheses(reader: PlateReader) -> None:
    rng = np.random.default_rng(7)
    top5, total = 0, 0
    for hard in HARD_CASES:
        for _ in range(2):
            spec = random_spec(rng)
            frames = render_passage(rng, 3, spec, hard=hard)
            read = reader.read([f.jpeg for f in frames if f.jpeg])
            total += 1
            top5 += spec.key in [h.key for h in read.hypotheses[:5]]
            if read.evidence:
                assert len(read.evidence) <= 3
                assert background_logprob(read) < read.hypotheses[0].logprob
    assert top5 >= total * 0.6, (top5, total)
