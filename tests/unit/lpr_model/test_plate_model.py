import shutil

import cv2
import numpy as np
import pytest

from lpr.recognize import Recognizer
from lpr.recognizers.plate_model import (
    CHARSET,
    DEFAULT_MODEL,
    PlateModelError,
    PlateModelRecognizer,
    greedy_decode,
    prepare_line,
)
from simulator.plates import random_spec, render_plate


@pytest.fixture(scope="module")
def rec():
    return PlateModelRecognizer()


def test_implements_the_recognizer_protocol(rec):
    assert isinstance(rec, Recognizer)
    assert rec.charset == CHARSET and rec.charset[0] == "\x00"


def test_step_probs_are_per_line_probability_matrices(rec):
    lines = [np.full((40, 160, 3), 200, np.uint8), np.full((30, 60), 90, np.uint8)]
    probs = rec.step_probs(lines)
    assert len(probs) == 2
    for p in probs:
        assert p.ndim == 2 and p.shape[1] == len(CHARSET)
        assert np.allclose(p.sum(axis=1), 1.0, atol=1e-4)
    assert rec.step_probs([]) == []


def _line_crops(seed, n):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        spec = random_spec(rng)
        plate = render_plate(spec, rng, height=120)
        for text, (x0, y0, x1, y1) in zip(spec.lines, plate.line_boxes, strict=True):
            m = 0.15 * (y1 - y0)
            crop = plate.image[int(y0 - m) : int(y1 + m), int(max(0, x0 - 2 * m)) : int(x1 + 2 * m)]
            out.append((crop, text))
    return out


def test_reads_freshly_rendered_synthetic_lines(rec):
    samples = _line_crops(seed=20261123, n=12)
    got = rec.read_greedy([c for c, _ in samples])
    right = sum(g == t for g, (_, t) in zip(got, samples, strict=True))
    assert right >= len(samples) - 1, list(zip(got, [t for _, t in samples], strict=True))


def test_corrupted_model_is_refused_with_a_clear_error(tmp_path):
    onnx = tmp_path / "plate_rec.onnx"
    shutil.copy(DEFAULT_MODEL, onnx)
    shutil.copy(DEFAULT_MODEL.with_suffix(".json"), tmp_path / "plate_rec.json")
    PlateModelRecognizer(onnx)  # the intact copy loads
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with pytest.raises(PlateModelError, match="corrupt"):
        PlateModelRecognizer(onnx)


def test_missing_model_files_give_a_clear_error(tmp_path):
    with pytest.raises(PlateModelError, match="description missing"):
        PlateModelRecognizer(tmp_path / "plate_rec.onnx")
    shutil.copy(DEFAULT_MODEL.with_suffix(".json"), tmp_path / "plate_rec.json")
    with pytest.raises(PlateModelError, match="model missing"):
        PlateModelRecognizer(tmp_path / "plate_rec.onnx")
    (tmp_path / "plate_rec.json").write_text("{not json")
    with pytest.raises(PlateModelError, match="unreadable"):
        PlateModelRecognizer(tmp_path / "plate_rec.onnx")


def test_prepare_line_normalizes_and_rejects_empty_crops():
    x = prepare_line(cv2.cvtColor(np.full((20, 500), 120, np.uint8), cv2.COLOR_GRAY2BGR))
    assert x.shape == (32, 192) and x.dtype == np.float32
    assert abs(float(x.mean())) < 1e-3
    for bad in (np.zeros((0, 10), np.uint8), np.zeros((4, 4, 3, 2), np.uint8)):
        with pytest.raises(ValueError, match="line crop"):
            prepare_line(bad)


def test_greedy_decode_collapses_repeats_and_blanks():
    idx = [0, 2, 2, 0, 2, 11, 11, 0]  # "1", "1", "A"
    probs = np.eye(len(CHARSET))[idx]
    assert greedy_decode(probs, CHARSET) == "11A"


def test_temperature_from_the_description_softens_the_probabilities(tmp_path):
    import json

    onnx = tmp_path / "plate_rec.onnx"
    shutil.copy(DEFAULT_MODEL, onnx)
    info = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    line = render_plate(random_spec(np.random.default_rng(4), layout="long"),
                        np.random.default_rng(4), height=48).image  # fmt: skip
    peaks = {}
    for t in (1.0, 3.0):
        (tmp_path / "plate_rec.json").write_text(json.dumps({**info, "temperature": t}))
        (probs,) = PlateModelRecognizer(onnx).step_probs([line])
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
        peaks[t] = float(probs.max(axis=1).mean())
    assert peaks[3.0] < peaks[1.0]
    (tmp_path / "plate_rec.json").write_text(json.dumps({**info, "temperature": 0}))
    with pytest.raises(PlateModelError, match="temperature"):
        PlateModelRecognizer(onnx)
