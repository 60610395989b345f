"""The review page's zoomed plate: the camera's crop, or the reader's box cut from its frame."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from gateway.images import has_plate_zoom, plate_zoom, read_box, store_read_box


def _jpeg(size: tuple[int, int], colour: tuple[int, int, int], box: tuple[int, ...] = ()) -> bytes:
    image = Image.new("RGB", size, colour)
    if box:
        x, y, w, h = box
        image.paste((255, 255, 255), (x, y, x + w, y + h))  # a white "plate"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def _frames(tmp: Path, *frames: bytes) -> str:
    ref = "images/2026-12-06/ev-1.jpg"
    first = tmp / ref
    first.parent.mkdir(parents=True)
    first.write_bytes(frames[0])
    for n, frame in enumerate(frames[1:], start=1):
        first.with_name(f"ev-1.{n}.jpg").write_bytes(frame)
    return ref


def _open(jpeg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(jpeg)).convert("RGB")


def test_the_readers_box_is_cut_from_its_frame_and_enlarged(tmp_path: Path) -> None:
    dark = _jpeg((1280, 720), (20, 20, 20))
    plate_box = (600, 500, 160, 40)
    ref = _frames(tmp_path, dark, _jpeg((1280, 720), (20, 20, 20), plate_box))
    assert plate_zoom(tmp_path, ref) is None and not has_plate_zoom(tmp_path, ref)
    store_read_box(tmp_path, ref, (1, *plate_box))  # found in the second frame
    assert read_box(tmp_path, ref) == (1, plate_box)
    assert has_plate_zoom(tmp_path, ref)
    zoom = plate_zoom(tmp_path, ref)
    assert zoom is not None
    image = _open(zoom)
    assert image.width == 360  # enlarged from 160 + margins
    assert 360 / image.height == (160 * 1.5) / (40 * 1.5)  # the box's shape, with its margin
    centre = image.getpixel((180, image.height // 2))
    assert isinstance(centre, tuple) and min(centre) > 200  # the plate, not the dark frame
    corner = image.getpixel((2, 2))
    assert isinstance(corner, tuple) and max(corner) < 80  # the margin around it


def test_the_cameras_own_crop_wins(tmp_path: Path) -> None:
    ref = _frames(tmp_path, _jpeg((1280, 720), (20, 20, 20)))
    (tmp_path / ref).with_name("ev-1.crop.jpg").write_bytes(_jpeg((120, 30), (250, 250, 250)))
    store_read_box(tmp_path, ref, (0, 10, 10, 50, 20))
    zoom = plate_zoom(tmp_path, ref)
    assert zoom is not None
    image = _open(zoom)
    assert image.size == (360, 90)
    pixel = image.getpixel((180, 45))
    assert isinstance(pixel, tuple) and min(pixel) > 200


def test_a_damaged_or_foreign_box_gives_no_zoom(tmp_path: Path) -> None:
    ref = _frames(tmp_path, _jpeg((1280, 720), (20, 20, 20)))
    box = (tmp_path / ref).with_name("ev-1.box.json")
    box.write_text("{not json")
    assert read_box(tmp_path, ref) is None and plate_zoom(tmp_path, ref) is None
    box.write_text(json.dumps({"frame": 3, "bbox": [1, 1, 10, 10]}))  # no fourth frame
    assert plate_zoom(tmp_path, ref) is None
    assert plate_zoom(tmp_path, "../../etc/passwd") is None  # outside the data dir
    assert not has_plate_zoom(tmp_path, "../outside.jpg")
