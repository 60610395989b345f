"""Make a capture fit one gate event, or refuse it at the lane with a clear reason.

The wire format has one size limit end to end (``gateway.protocol.MAX_EVENT_BYTES``): a larger
event would be refused by the broker, which drops the gate's connection for it, again and again.
So the lane never buffers one. A camera may well give more: five full-resolution frames, a frame
over the per-frame limit, a large crop. What it gives is shrunk, in this order:

1. frames beyond the protocol's five are dropped;
2. a crop over its limit is re-encoded smaller, or dropped (the frames still show the plate);
3. frames are re-encoded (lower JPEG quality, then smaller) until each is under its own limit and
   all of them, with the crop, fit the event: every frame is kept, since the gateway votes over
   them;
4. where a frame cannot be re-encoded (no OpenCV on this box, or it does not decode), frames are
   dropped from the end instead.

Anything that still does not fit, or a frame that is not a JPEG at all, is refused:
:class:`CaptureRefused` says why, and nothing is buffered or sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.protocol import (
    JPEG_SOI,
    MAX_CROP_BYTES,
    MAX_FRAME_BYTES,
    MAX_FRAMES,
    MAX_PARTS_BYTES,
)

log = logging.getLogger(__name__)

QUALITIES = (85, 70, 55, 40)
SCALE_STEP = 0.75
SMALLEST_SIDE = 160  # below this a plate is unreadable: refuse rather than send mush


class CaptureRefused(ValueError):
    """A capture that cannot be made into a valid event; the message says why."""


@dataclass(frozen=True)
class Fitted:
    frames: tuple[bytes, ...]
    crop: bytes | None
    changes: tuple[str, ...]  # what was done to make it fit (empty: nothing)


def fit_capture(frames: Sequence[bytes], crop: bytes | None) -> Fitted:
    """The capture as it may travel (see the module docstring), or CaptureRefused."""
    if not frames:
        raise CaptureRefused("the camera gave no frame")
    for i, frame in enumerate(frames):
        if not bytes(frame[:3]) == JPEG_SOI:
            raise CaptureRefused(f"frame {i} is not a JPEG")
    changes: list[str] = []
    shot = [bytes(f) for f in frames[:MAX_FRAMES]]
    if len(frames) > MAX_FRAMES:
        changes.append(f"kept {MAX_FRAMES} of {len(frames)} frames")
    if crop is not None and (len(crop) > MAX_CROP_BYTES or not crop.startswith(JPEG_SOI)):
        smaller = _reencode(crop, MAX_CROP_BYTES) if crop.startswith(JPEG_SOI) else None
        changes.append("re-encoded the plate crop" if smaller else "dropped the plate crop")
        crop = smaller
    budget = MAX_PARTS_BYTES - len(crop or b"")
    if sum(map(len, shot)) > budget or max(map(len, shot)) > MAX_FRAME_BYTES:
        target = min(MAX_FRAME_BYTES, budget // len(shot))
        for i, frame in enumerate(shot):
            if len(frame) > target:
                smaller = _reencode(frame, target)
                if smaller is not None:
                    shot[i] = smaller
                    changes.append(f"re-encoded frame {i} ({len(frame)} -> {len(smaller)} bytes)")
    # Whatever could not be re-encoded: fewer frames, from the end (the first shows the car
    # nearest to the trigger).
    while len(shot) > 1 and (sum(map(len, shot)) > budget or len(shot[-1]) > MAX_FRAME_BYTES):
        changes.append(f"dropped frame {len(shot) - 1}")
        shot.pop()
    if len(shot[0]) > MAX_FRAME_BYTES or sum(map(len, shot)) > budget:
        raise CaptureRefused(
            f"frame 0 is {len(shot[0])} bytes and could not be made smaller "
            f"(limit {MAX_FRAME_BYTES} per frame, {MAX_PARTS_BYTES} per event)"
        )
    return Fitted(tuple(shot), crop, tuple(changes))


def _reencode(jpeg: bytes, limit: int) -> bytes | None:
    """The image as a JPEG of at most ``limit`` bytes (lower quality, then smaller), or None
    when it cannot be decoded here or would have to shrink past readability."""
    try:
        import cv2
        import numpy as np
    except ImportError:  # a box without OpenCV: the caller drops frames instead
        return None
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    while min(image.shape[:2]) >= SMALLEST_SIDE:
        for quality in QUALITIES:
            ok, out = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(out) <= limit:
                return bytes(out.tobytes())
        image = cv2.resize(image, None, fx=SCALE_STEP, fy=SCALE_STEP, interpolation=cv2.INTER_AREA)
    return None
