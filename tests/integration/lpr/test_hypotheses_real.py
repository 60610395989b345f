"""Hypotheses and key scores on real dev crops (read from ../shared, never copied).

bench/lpr_hypotheses.py measures the whole dev set; this checks a fixed sample of it so a
change that breaks what the exit matcher relies on fails a test.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest

from lpr.grammar import plate_key, twins
from lpr.reader import PlateReader
from lpr.score import background_logprob, score_key
from lpr.types import PlateRead

pytestmark = pytest.mark.slow

DEV = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "vn-plates" / "dev"
SAMPLE = 120
Trials = list[tuple[str, PlateRead]]


@pytest.fixture(scope="module")
def trials() -> Trials:
    with (DEV / "labels.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows = random.Random(16).sample(rows, SAMPLE)
    reader = PlateReader("auto")
    reader.warm_up()
    return [
        (r["plate"], reader.read([(DEV / "images" / r["file"]).read_bytes()], crop="frame"))
        for r in rows
    ]


def test_the_labelled_plate_is_among_the_top_five_hypotheses(trials: Trials) -> None:
    top1 = sum(bool(r.hypotheses) and r.hypotheses[0].key == plate_key(p) for p, r in trials)
    top5 = sum(plate_key(p) in [h.key for h in r.hypotheses[:5]] for p, r in trials)
    assert top1 >= 0.94 * SAMPLE, top1
    assert top5 >= 0.97 * SAMPLE, top5


def test_the_labelled_plate_scores_above_its_near_twins(trials: Trials) -> None:
    beaten = 0
    for plate, read in trials:
        truth = score_key(read, plate_key(plate))
        assert math.isfinite(truth) and math.isfinite(background_logprob(read))
        beaten += all(truth > score_key(read, plate_key(t)) for t in twins(plate))
    assert beaten >= 0.94 * SAMPLE, beaten


def test_hypothesis_scores_are_the_score_of_their_key(trials: Trials) -> None:
    for _, read in trials[:20]:
        for h in read.hypotheses:
            assert score_key(read, h.key) == pytest.approx(h.logprob)
