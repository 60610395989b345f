"""Bad input gives BadImage and a log line, never a crash."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image

from lpr.errors import BadImage
from lpr.images import MAX_BYTES, to_bgr


def jpeg(w: int = 64, h: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def test_good_jpeg_and_arrays_decode_to_bgr() -> None:
    assert to_bgr(jpeg()).shape == (48, 64, 3)
    assert to_bgr(np.zeros((20, 30), np.uint8)).shape == (20, 30, 3)
    assert to_bgr(np.zeros((20, 30, 4), np.uint8)).shape == (20, 30, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
        (jpeg()[:200], "truncated"),
        (b"\x00" * (MAX_BYTES + 1), "too large"),
        (np.zeros((10, 10), np.float32), "dtype"),
        (np.zeros((10, 10, 2), np.uint8), "shape"),
        (np.zeros((4, 4, 3), np.uint8), "too small"),
        ("a string", "unsupported"),
    ],
)
def test_bad_input_is_rejected_with_a_log_line(
    data: object, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="lpr.images"),
        pytest.raises(BadImage, match=message),
    ):
        to_bgr(data)  # type: ignore[arg-type]
    assert any("rejected image" in r.message for r in caplog.records)


def test_huge_dimensions_are_refused_before_decoding() -> None:
    buf = io.BytesIO()
    Image.new("1", (6000, 5000)).save(buf, "PNG")  # tiny file, 30 megapixels
    assert len(buf.getvalue()) < MAX_BYTES
    with pytest.raises(BadImage, match="too large"):
        to_bgr(buf.getvalue())
