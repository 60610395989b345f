"""The whole reader on real dev crops and synthetic gate frames, with the best recognizer.

The dev images are read from ../shared (evaluation only, never copied into the repo).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lpr.errors import BadImage
from lpr.grammar import plate_key
from lpr.pool import ReaderPool
from lpr.reader import PlateReader

pytestmark = pytest.mark.slow

DEV = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "vn-plates" / "dev"
# Clear examples of each layout: long car, square car, motorbike 4 and 5 digits, yellow.
REAL = ["10xemay112.jpg", "3CarLongPlate230.jpg", "ndata1.jpg", "ndata124.jpg", "ndata107.jpg"]


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    r = PlateReader("auto")
    r.warm_up()
    return r


@pytest.fixture(scope="module")
def labels() -> dict[str, str]:
    with (DEV / "labels.csv").open(encoding="utf-8") as f:
        return {row["file"]: row["plate"] for row in csv.DictReader(f)}


@pytest.mark.parametrize("name", REAL)
def test_real_dev_crops_read_exactly(
    reader: PlateReader, labels: dict[str, str], name: str
) -> None:
    r = reader.read([(DEV / "images" / name).read_bytes()], crop="frame")
    assert r.key == plate_key(labels[name])
    assert r.text == labels[name]
    assert 0.0 <= r.confidence <= 1.0
    assert r.timings_ms["total"] > 0


def _passages(n: int, seed: int) -> Iterator[tuple[str, list[bytes], tuple[int, int, int, int]]]:
    from simulator.plates import render_passage

    rng = np.random.default_rng(seed)
    for _ in range(n):
        frames = render_passage(rng, 3, night=False)
        yield frames[0].spec.text, [f.jpeg for f in frames], frames[-1].bbox  # type: ignore[misc]


def test_synthetic_gate_frames_read_exactly(reader: PlateReader) -> None:
    for text, jpegs, _bbox in _passages(4, seed=2024):
        r = reader.read(jpegs)
        assert r.key == plate_key(text), (text, r.text, r.candidates)
        _, _, bw, bh = r.bbox  # type: ignore[misc]
        # The plate found lies on the rendered plate (of the frame the answer came from).
        assert bw > 0 and bh > 0


def test_camera_crop_box_is_used(reader: PlateReader) -> None:
    from simulator.plates import render_frame

    f = render_frame(np.random.default_rng(7), night=False)
    x0, y0, x1, y1 = f.bbox
    r = reader.read([f.image], crop=(x0, y0, x1 - x0, y1 - y0))
    assert r.key == plate_key(f.spec.text)
    bx, by, _, _ = r.bbox  # type: ignore[misc]
    assert x0 - 40 <= bx <= x1 and y0 - 40 <= by <= y1  # reported in frame coordinates


def test_agreeing_frames_beat_one_frame(reader: PlateReader, labels: dict[str, str]) -> None:
    data = (DEV / "images" / "10xemay112.jpg").read_bytes()
    one = reader.read([data], crop="frame")
    two = reader.read([data, data], crop="frame")
    assert two.key == one.key and two.frames == 2
    assert two.confidence >= one.confidence


def test_enough_stops_at_the_first_conclusive_frame_else_votes_on(reader: PlateReader) -> None:
    data = (DEV / "images" / "10xemay112.jpg").read_bytes()
    corrupt = b"\xff\xd8\xff\xe0 truncated jpeg"
    blank = np.full((560, 760, 3), 90, np.uint8)
    sure = reader.read([data, corrupt], crop="frame", enough=0.9)
    assert sure.auto_ok and sure.frames == 1  # the corrupt second frame was never decoded
    with pytest.raises(BadImage):
        reader.read([data, corrupt], crop="frame")  # without it every frame is decoded first
    late = reader.read([blank, data, data], crop="frame", enough=0.9)
    assert late.key == sure.key and late.frames == 1  # went on past the empty first frame
    assert late.timings_ms["total"] > 0


def test_no_plate_gives_an_empty_read_not_an_error(reader: PlateReader) -> None:
    blank = np.full((720, 1280, 3), 90, np.uint8)
    r = reader.read([blank])
    assert r.text is None and r.key is None and not r.auto_ok and r.confidence == 0.0


def test_bad_frames_raise_bad_image(reader: PlateReader, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(BadImage):
        reader.read([b"\xff\xd8\xff\xe0 truncated jpeg"])
    assert caplog.records
    with pytest.raises(BadImage, match="frames"):
        reader.read([])
    with pytest.raises(BadImage, match="frames"):
        reader.read([np.zeros((50, 50, 3), np.uint8)] * 6)


def test_pool_reads_in_a_worker_process() -> None:
    data = (DEV / "images" / "3CarLongPlate230.jpg").read_bytes()
    with ReaderPool(1) as pool:
        good = pool.read([data], "frame", 0.9)
        bad = pool.read([b"not an image"], "frame")
        assert good.result(timeout=120).text == "51A-775.29"
        assert isinstance(bad.exception(timeout=120), BadImage)


def test_cli_prints_one_json_object_per_image(tmp_path: Path) -> None:
    from gateway.cli import app

    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"garbage")
    images = [str(DEV / "images" / "ndata1.jpg"), str(junk)]
    result = CliRunner().invoke(app, ["lpr", "read", "--json", *images])
    lines = [json.loads(x) for x in io.StringIO(result.stdout) if x.startswith("{")]
    assert [x["file"] for x in lines] == images
    assert lines[0]["plate"] == "30E-990.37" and lines[0]["ms"] > 0
    assert lines[1]["plate"] is None and "error" in lines[1]
    assert result.exit_code == 1
