"""What every real lane camera shares: the latest frames of the lane as JPEG, checked.

The cameras here implement ``edge.camera.Camera`` (``capture(plate_text)``, the lane's one
method; ``plate_text`` is only for the simulator's cameras, real ones ignore it), so a lane
takes them as it takes a synthetic one. A frame that cannot be decoded is never sent up: it is
counted and logged here
(``corrupt``), and a camera that has nothing to give raises :class:`CameraError` with a stable
``reason`` (``disconnected``, ``stale``, ``timeout``, ``http``, ``corrupt``, ``empty``) that the
lane logs and that ``edge_camera_errors`` counts. Frames larger than the wire format allows
(1 MiB) are re-encoded smaller rather than refused.
"""

from __future__ import annotations

import logging

import numpy as np

from edge.io.metrics import IoMetrics
from gateway.protocol import MAX_FRAME_BYTES
from lpr.errors import BadImage
from lpr.images import to_bgr

log = logging.getLogger(__name__)


class CameraError(RuntimeError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def failed(metrics: IoMetrics, lane: str, reason: str, message: str) -> CameraError:
    """Count, log and build the error a camera raises."""
    metrics.camera_errors.labels(lane, reason).inc()
    log.warning("lane %s camera: %s", lane, message)
    return CameraError(reason, message)


def checked_jpeg(data: bytes) -> tuple[bytes, np.ndarray]:
    """A camera's JPEG and its decoded image, re-encoded when larger than a frame may be;
    BadImage when it is not a whole, decodable JPEG."""
    if not data.startswith(b"\xff\xd8"):
        raise BadImage("not a JPEG (no SOI marker)")
    image = to_bgr(data)
    return (data if len(data) <= MAX_FRAME_BYTES else encode_jpeg(image)), image


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """``image`` as a JPEG of at most MAX_FRAME_BYTES (lower quality, then smaller, if need be)."""
    import cv2

    while True:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
            raise BadImage("the frame could not be encoded as JPEG")
        if buf.size <= MAX_FRAME_BYTES:
            return buf.tobytes()
        if quality > 50:
            quality -= 15
        else:
            h, w = image.shape[:2]
            image = cv2.resize(image, (w * 3 // 4, h * 3 // 4), interpolation=cv2.INTER_AREA)
