"""A capture too large for one event is shrunk at the lane, or refused with a reason: never sent
over the one size limit (which made the broker drop the gate's connection, again and again)."""

from __future__ import annotations

import builtins
from typing import Any

import cv2
import numpy as np
import pytest

from edge.fit import CaptureRefused, fit_capture
from gateway.protocol import MAX_CROP_BYTES, MAX_FRAME_BYTES, MAX_FRAMES, MAX_PARTS_BYTES


def noisy_jpeg(width: int, height: int, seed: int, quality: int = 95) -> bytes:
    """Noise compresses badly: a large JPEG of a given size class, with a visible gradient."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    image[:, : width // 2] //= 2
    ok, out = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(out.tobytes())


@pytest.fixture(scope="module")
def big_frames() -> list[bytes]:
    """Five frames each just under the per-frame limit: every one valid, together too large."""
    frames = []
    for seed in range(MAX_FRAMES):
        width = 1280
        while len(frame := noisy_jpeg(width, 720, seed, quality=100)) > MAX_FRAME_BYTES:
            width -= 40
        frames.append(frame)
    assert sum(map(len, frames)) > MAX_PARTS_BYTES
    return frames


def decodes(jpeg: bytes) -> bool:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None


def test_five_large_frames_are_re_encoded_to_fit_and_all_kept(big_frames: list[bytes]) -> None:
    fitted = fit_capture(big_frames, None)
    assert len(fitted.frames) == MAX_FRAMES
    assert sum(map(len, fitted.frames)) <= MAX_PARTS_BYTES
    assert all(decodes(f) for f in fitted.frames)
    assert any("re-encoded" in c for c in fitted.changes)


def test_a_frame_over_its_own_limit_is_made_smaller() -> None:
    huge = noisy_jpeg(1400, 900, 7, quality=100)
    assert len(huge) > MAX_FRAME_BYTES
    fitted = fit_capture([huge], None)
    assert len(fitted.frames[0]) <= MAX_FRAME_BYTES and decodes(fitted.frames[0])


def test_small_captures_pass_untouched() -> None:
    frames = [noisy_jpeg(64, 32, 1), noisy_jpeg(64, 32, 2)]
    crop = noisy_jpeg(32, 16, 3)
    fitted = fit_capture(frames, crop)
    assert fitted.frames == tuple(frames) and fitted.crop == crop and fitted.changes == ()


def test_extra_frames_are_dropped_and_an_oversized_crop_shrunk() -> None:
    frames = [noisy_jpeg(64, 32, i) for i in range(7)]
    crop = noisy_jpeg(500, 300, 9, quality=100)
    assert len(crop) > MAX_CROP_BYTES
    fitted = fit_capture(frames, crop)
    assert fitted.frames == tuple(frames[:MAX_FRAMES])
    assert fitted.crop is not None and len(fitted.crop) <= MAX_CROP_BYTES


def test_what_is_not_a_jpeg_is_refused() -> None:
    with pytest.raises(CaptureRefused, match="not a JPEG"):
        fit_capture([b"\x89PNG\r\n"], None)
    with pytest.raises(CaptureRefused, match="no frame"):
        fit_capture([], None)


def test_undecodable_oversized_frames_are_dropped_or_refused() -> None:
    garbage = b"\xff\xd8\xff" + b"\x00" * (MAX_FRAME_BYTES + 10)
    good = noisy_jpeg(64, 32, 1)
    fitted = fit_capture([good, garbage], None)
    assert fitted.frames == (good,) and "dropped frame 1" in fitted.changes
    with pytest.raises(CaptureRefused, match="could not be made smaller"):
        fit_capture([garbage], None)


def test_without_opencv_frames_are_dropped_instead(
    big_frames: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_cv2(name: str, *args: Any, **kw: Any) -> Any:
        if name == "cv2":
            raise ImportError("no OpenCV on this box")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_cv2)
    fitted = fit_capture(big_frames, None)
    assert fitted.frames == tuple(big_frames[: len(fitted.frames)])  # untouched, fewer
    assert 1 <= len(fitted.frames) < MAX_FRAMES
    assert sum(map(len, fitted.frames)) <= MAX_PARTS_BYTES
