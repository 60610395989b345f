"""Frame voting and calibration with an in-memory recognizer (no models)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lpr import calibration
from lpr.localize import Localizer, PlateRegion
from lpr.reader import PlateReader

CHARSET = "\x00" + "0123456789ABCDEFGHKLMNPRSTUVXYZ-."


def probs_for(text: str, sure: float) -> np.ndarray:
    rows = []
    for ch in text:
        row = np.full(len(CHARSET), (1 - sure) / (len(CHARSET) - 1))
        row[CHARSET.index(ch)] = sure
        rows.append(row)
        blank = np.full(len(CHARSET), 1e-4)
        blank[0] = 1.0
        rows.append(blank / blank.sum())
    return np.array(rows)


class ScriptedRecognizer:
    """Returns one scripted line read per call, in order (each frame is one long plate)."""

    name = "scripted"
    charset = CHARSET

    def __init__(self, reads: list[tuple[str, float]]) -> None:
        self.reads = list(reads)

    def step_probs(self, lines: Sequence[np.ndarray]) -> list[np.ndarray]:
        text, sure = self.reads.pop(0)
        return [probs_for(text, sure)]


class WholeImage(Localizer):
    """The whole image is the plate. Declared a Localizer so mypy checks it against the
    Protocol."""

    def locate(self, image: np.ndarray, max_regions: int = 3) -> list[PlateRegion]:
        h, w = image.shape[:2]
        return [PlateRegion(image, (0, 0, w, h), 1, "white", 1.0)]

    def refine(self, crop: np.ndarray) -> PlateRegion:
        h, w = crop.shape[:2]
        return PlateRegion(crop, (0, 0, w, h), 1, "white", 0.0)


FRAME = np.full((60, 300, 3), 255, np.uint8)


def reader(reads: list[tuple[str, float]]) -> PlateReader:
    return PlateReader(ScriptedRecognizer(reads), WholeImage(), retry_below=0.0)


def test_two_agreeing_reads_beat_one_confident_read() -> None:
    r = reader([("30A12345", 0.9), ("30A12345", 0.9), ("30A12845", 0.999)]).read([FRAME] * 3)
    assert r.text == "30A-123.45"
    assert r.frames == 2
    assert {c.key for c in r.candidates} >= {"30A12345", "30A12845"}


def test_agreement_raises_and_dissent_lowers_confidence() -> None:
    one = reader([("30A12345", 0.9)]).read([FRAME])
    two = reader([("30A12345", 0.9), ("30A12345", 0.9)]).read([FRAME] * 2)
    split = reader([("30A12345", 0.9), ("30A12845", 0.9)]).read([FRAME] * 2)
    assert two.confidence >= one.confidence > split.confidence
    assert not split.auto_ok


def test_unknown_province_lowers_confidence_but_keeps_the_read() -> None:
    known = reader([("30A12345", 0.95)]).read([FRAME])
    unknown = reader([("13A12345", 0.95)]).read([FRAME])  # 13 is not a province code
    assert unknown.text == "13A-123.45"
    assert unknown.confidence < known.confidence


def test_timings_and_result_fields() -> None:
    r = reader([("29A1234", 0.95)]).read([FRAME])
    assert (r.text, r.key, r.kind, r.lines) == ("29A-1234", "29A1234", "car", 1)
    assert r.bbox == (0, 0, 300, 60)
    assert {"decode", "locate", "read", "total", "cpu"} <= set(r.timings_ms)
    assert r.recognizer == "scripted"
    assert r.auto_ok == (r.confidence >= calibration.THRESHOLD)


def test_calibration_fit_learns_that_a_higher_posterior_is_safer() -> None:
    rng = np.random.default_rng(0)
    post = rng.uniform(0, 1, 400)
    ok = rng.uniform(0, 1, 400) < post
    weights, _bias = calibration.fit([(p, 0.0) for p in post], list(ok))
    assert weights[0] > 0


def test_the_answers_box_names_the_frame_it_is_in() -> None:
    """The box of the best agreeing read, and which frame that was (the review page cuts the
    zoomed plate from it); a dissenting frame is never the one named."""
    r = reader([("30A12845", 0.99), ("30A12345", 0.7), ("30A12345", 0.95)]).read([FRAME] * 3)
    assert r.text == "30A-123.45" and r.bbox == (0, 0, 300, 60)
    assert r.bbox_frame == 2
    progressive = reader([("30A12345", 0.99)]).read([FRAME] * 3, enough=0.5)
    assert progressive.bbox_frame == 0
