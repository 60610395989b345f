"""Turning camera input (JPEG/PNG bytes or arrays) into BGR arrays, refusing bad input early."""

from __future__ import annotations

import io
import logging

import numpy as np

from lpr.errors import BadImage

log = logging.getLogger(__name__)

MAX_BYTES = 16 * 1024 * 1024
MAX_PIXELS = 24_000_000  # a 6K frame; anything larger is not a gate camera frame
MIN_SIDE = 8


def _bad(reason: str) -> BadImage:
    log.warning("lpr: rejected image: %s", reason)
    return BadImage(reason)


def to_bgr(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """Decode or validate one frame; raise BadImage (and log it) for anything unusable."""
    if isinstance(data, np.ndarray):
        return _check_array(data)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _bad(f"unsupported frame type {type(data).__name__}")
    raw = bytes(data)
    if not raw:
        raise _bad("empty image")
    if len(raw) > MAX_BYTES:
        raise _bad(f"image too large: {len(raw)} bytes > {MAX_BYTES}")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise _bad(f"image too large: {w}x{h} pixels")
            im.load()  # raises on truncated data (LOAD_TRUNCATED_IMAGES stays off)
            rgb = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
    except BadImage:
        raise
    except UnidentifiedImageError as exc:
        raise _bad("not an image (unknown format)") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _bad(f"corrupt or truncated image: {exc}") from exc
    import cv2

    # One copy into BGR (a JPEG frame decodes to RGB already; numpy's reversed view plus a
    # contiguous copy cost as much as the decoding itself).
    return _check_array(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _check_array(img: np.ndarray) -> np.ndarray:
    if img.dtype != np.uint8:
        raise _bad(f"array dtype {img.dtype}, expected uint8")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        import cv2

        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = np.ascontiguousarray(img[..., :3])
    elif not (img.ndim == 3 and img.shape[2] == 3):
        raise _bad(f"array shape {img.shape}, expected HxW or HxWx3")
    h, w = img.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise _bad(f"image too small: {w}x{h}")
    if h * w > MAX_PIXELS:
        raise _bad(f"image too large: {w}x{h} pixels")
    return img
