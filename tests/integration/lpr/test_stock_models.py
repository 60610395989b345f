"""The stock-model paths: EasyOCR's weights strictly offline and checked, CRAFT as a fallback
on small crops, and the stock recognizers selectable beside the plate-trained one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from lpr.errors import ModelMissing
from lpr.grammar import plate_key
from lpr.reader import PlateReader
from lpr.recognizers import easyocr_en
from lpr.recognizers.easyocr_en import EasyOcrRecognizer, checked_weights, load_reader
from lpr.recognizers.rapid import RapidOcrRecognizer
from simulator.plates import render_plate, spec_from_text

DEV = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "vn-plates" / "dev"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_offline_weights_match_easyocr_own_md5_table() -> None:
    from easyocr import config

    folder = Path(checked_weights())
    for entry in (
        config.detection_models["craft"],
        config.recognition_models["gen2"][easyocr_en.RECOGNIZER_MODEL],
    ):
        assert _md5(folder / entry["filename"]) == entry["md5sum"]


def test_missing_or_altered_weights_are_refused_before_easyocr_sees_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easyocr import config

    monkeypatch.setattr(easyocr_en, "model_dir", lambda: str(tmp_path))
    easyocr_en._md5.cache_clear()
    with pytest.raises(ModelMissing, match="missing"):
        load_reader(recognizer=True)
    name = config.recognition_models["gen2"][easyocr_en.RECOGNIZER_MODEL]["filename"]
    (tmp_path / name).write_bytes(b"not the weights")
    with pytest.raises(ModelMissing, match="MD5"):
        EasyOcrRecognizer()


def test_stock_recognizers_give_per_step_probabilities_over_their_charsets() -> None:
    line = render_plate(spec_from_text("30A-123.45"), np.random.default_rng(1), height=60).image
    for rec in (EasyOcrRecognizer(), RapidOcrRecognizer()):
        (probs,) = rec.step_probs([line])
        assert probs.ndim == 2 and probs.shape[1] == len(rec.charset) and probs.shape[0] >= 10
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-3)


@pytest.mark.parametrize("name", ["rapidocr", "easyocr"])
def test_stock_recognizer_is_selectable_and_reports_its_name(name: str) -> None:
    reader = PlateReader(name, craft_fallback=False)
    read = reader.read((DEV / "images" / "3CarLongPlate230.jpg").read_bytes(), crop="frame")
    assert read.recognizer == name
    if name == "rapidocr":  # the strong stock model reads this clear car plate exactly
        assert read.key == plate_key("51A-775.29")


def test_craft_finds_the_two_lines_of_a_motorbike_plate() -> None:
    from lpr.craft import CraftLines

    plate = render_plate(spec_from_text("29-B1 678.90"), np.random.default_rng(2), height=180)
    lines = CraftLines().lines(plate.image)
    assert len(lines) == 2
    h = plate.image.shape[0]
    assert all(0.15 * h < line.shape[0] < 0.7 * h for line in lines)  # one band each
