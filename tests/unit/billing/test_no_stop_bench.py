"""bench/no_stop.py: bad input is refused before anything runs; twins and distractors are
valid plates of the right shape."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from billing.domain.plates import canonical_plate, plate_key

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("no_stop_bench", ROOT / "bench" / "no_stop.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["no_stop_bench"] = module
    spec.loader.exec_module(module)
    return module


def folder(tmp_path: Path, rows: list[str], header: str = "file,plate,kind,lines") -> Path:
    images = tmp_path / "images"
    images.mkdir()
    ok, png = cv2.imencode(".png", np.full((40, 120, 3), 200, np.uint8))
    assert ok
    (images / "a.png").write_bytes(png.tobytes())
    (images / "b.png").write_bytes(png.tobytes())
    (images / "empty.png").write_bytes(b"")
    (images / "junk.png").write_bytes(b"this is not an image")
    (tmp_path / "labels.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return tmp_path


def run(bench: ModuleType, where: Path, inside: int, capsys: pytest.CaptureFixture[str]) -> str:
    code = bench.main(
        [
            "--images",
            str(where / "images"),
            "--labels",
            str(where / "labels.csv"),
            "--inside",
            str(inside),
            "--json",
        ]
    )
    out = capsys.readouterr()
    assert code == 2
    assert out.out == ""  # nothing measured, no JSON
    return str(out.err)


GOOD = ["a.png,30A-123.45,car,1", "b.png,29-B1 678.90,motorbike,2"]


def test_an_empty_image_is_refused(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = folder(tmp_path, [*GOOD, "empty.png,30E-246.80,car,1"])
    assert "empty.png is empty" in run(bench, where, 10, capsys)


def test_an_unreadable_image_is_refused(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = folder(tmp_path, [*GOOD, "junk.png,30E-246.80,car,1"])
    assert "junk.png is not a readable image" in run(bench, where, 10, capsys)


def test_a_missing_image_is_refused(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = folder(tmp_path, [*GOOD, "gone.png,30E-246.80,car,1"])
    assert "gone.png does not exist" in run(bench, where, 10, capsys)


def test_unknown_columns_are_refused(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = folder(tmp_path, ["a.png,30A-123.45,car,1,x"], "file,plate,kind,lines,colour")
    err = run(bench, where, 10, capsys)
    assert "unknown: colour" in err and "file,plate,kind,lines" in err


def test_a_missing_column_is_refused(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = folder(tmp_path, ["a.png,30A-123.45"], "file,plate")
    assert "missing: kind,lines" in run(bench, where, 10, capsys)


def test_an_invalid_plate_label_is_refused(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = folder(tmp_path, ["a.png,HELLO,car,1"])
    assert "'HELLO' is not a valid Vietnamese plate" in run(bench, where, 10, capsys)


def test_fewer_inside_than_labelled_plates_is_refused(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = folder(tmp_path, GOOD)
    assert "--inside 1 is smaller than the 2 distinct labelled plates" in run(
        bench, where, 1, capsys
    )


@pytest.mark.parametrize("plate", ["30A-123.45", "29-B1 678.90", "51G-888.88", "59-X1 026.25"])
def test_twins_are_one_confusable_character_away(bench: ModuleType, plate: str) -> None:
    rng = random.Random(1)
    for _ in range(20):
        t = bench.twin(rng, plate)
        assert t is not None and canonical_plate(t) == t
        a, b = plate_key(plate), plate_key(t)
        assert len(a) == len(b)
        diffs = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
        assert len(diffs) == 1 and diffs[0][1] in bench.CONFUSABLE[diffs[0][0]]


@pytest.mark.parametrize("plate", ["30A-123.45", "29-B1 678.90", "30A-1234", "29-B1 6789"])
def test_distractors_keep_province_series_and_shape(bench: ModuleType, plate: str) -> None:
    rng = random.Random(2)
    for _ in range(20):
        d = bench.distractor(rng, plate)
        assert d is not None and canonical_plate(d) == d
        assert len(plate_key(d)) == len(plate_key(plate))
        assert plate_key(d)[:3] == plate_key(plate)[:3]


def test_a_wrong_charge_names_the_images_labelled_with_the_charged_plate(bench: ModuleType) -> None:
    samples = [
        bench.Sample("x.jpg", "50-B6 280.32", plate_key("50-B6 280.32"), b""),
        bench.Sample("y.jpg", "60-B6 280.32", plate_key("60-B6 280.32"), b""),
        bench.Sample("z.jpg", "60-B6 280.32", plate_key("60-B6 280.32"), b""),
    ]
    wrong = [
        {"file": "x.jpg", "label": "50-B6 280.32", "charged": "60-B6 280.32"},
        {"file": "y.jpg", "label": "60-B6 280.32", "charged": "29-A1 123.45"},
    ]
    out = bench._with_label_twins(wrong, samples)
    assert out[0]["charged_is_label_of"] == ["y.jpg", "z.jpg"]
    assert out[1]["charged_is_label_of"] == []
    assert out[0]["charged"] == "60-B6 280.32"  # the charge itself is reported unchanged
