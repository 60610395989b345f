"""From a plate image (a crop with some margin) to tight, padded, level line crops.

The recognizers read one text line at a time, so a two-line plate must be cut between its
lines; the cut, the trim of the plate frame and the padding decide more of the accuracy than
any later step (a clipped first digit cannot be decoded back).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TIGHT_X = False
MARGIN_X = 99.0  # char heights kept beyond the outer boxes (dev: full width reads best)
WORK_W = 320  # plates are normalized to this width before the line analysis


@dataclass(frozen=True, slots=True)
class PlateLines:
    lines: tuple[np.ndarray, ...]  # BGR line crops, top first
    bbox: tuple[int, int, int, int]  # plate box (x, y, w, h) in the input image
    inverted: bool  # light text on a dark plate (blue/red plates)


def _grey(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img


def _strip_frame(mask: np.ndarray) -> np.ndarray:
    """Remove long straight strokes (the plate frame, bumper edges) that glue characters."""
    h, w = mask.shape
    horiz = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, w // 4), 1))
    )
    vert = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(3, int(h * 0.8))))
    )
    return cv2.subtract(mask, cv2.bitwise_or(horiz, vert))


def text_mask_boxes(
    grey: np.ndarray, min_h: float | None = None, max_h: float | None = None
) -> tuple[np.ndarray, bool, np.ndarray]:
    """Binary mask of the characters (255), whether the plate is light-on-dark, and the
    character boxes (x, y, w, h) found in that mask.

    Both polarities are tried; the one that yields more character-like blobs wins (dark text
    on white/yellow plates, light text on blue/red ones), which is sturdier than guessing the
    background from the histogram under shadows and glare.
    """
    h, w = grey.shape
    block = max(15, (min(h, w) // 4) | 1)
    lo = 0.15 * h if min_h is None else min_h
    hi = 0.95 * h if max_h is None else max_h
    best: tuple[np.ndarray, np.ndarray, bool] | None = None
    for inverted in (False, True):
        g = 255 - grey if inverted else grey
        mask = cv2.adaptiveThreshold(
            g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10
        )
        mask = _strip_frame(mask)
        boxes = _char_boxes(mask, lo, hi)
        if best is None or len(boxes) > len(best[0]):
            best = (boxes, mask, inverted)
    assert best is not None
    return best[1], best[2], best[0]


def _char_boxes(mask: np.ndarray, min_h: float, max_h: float) -> np.ndarray:
    """Bounding boxes (x, y, w, h) of character-like connected components."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return np.zeros((0, 4), dtype=np.int32)
    s = stats[1:]
    x, y, w, h, area = s[:, 0], s[:, 1], s[:, 2], s[:, 3], s[:, 4]
    W = mask.shape[1]
    ok = (
        (h >= min_h)
        & (h <= max_h)
        & (w <= 0.3 * W)
        & (h >= 0.9 * w)
        & (h <= 8 * w + 4)
        & (area >= 0.12 * w * h)
        & (x > 0)
        & (x + w < W)
    )
    return np.stack([x[ok], y[ok], w[ok], h[ok]], axis=1)


def _rows_gap(mask: np.ndarray) -> int:
    """Row of least ink in the middle band: where a two-line plate is cut."""
    h, w = mask.shape
    prof = mask[:, w // 10 : w - w // 10].mean(axis=1)
    lo, hi = int(0.3 * h), int(0.7 * h)
    prof = np.convolve(prof, np.ones(5) / 5, mode="same")
    return lo + int(np.argmin(prof[lo:hi]))


def _crop(img: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    h, w = img.shape[:2]
    xa, ya = max(0, round(x0)), max(0, round(y0))
    xb, yb = min(w, round(x1)), min(h, round(y1))
    if xb - xa < 4 or yb - ya < 4:
        return img
    return img[ya:yb, xa:xb]


def _pad(line: np.ndarray, frac: float = 0.12) -> np.ndarray:
    """Replicate the border so edge characters keep some context on both sides."""
    h = line.shape[0]
    p = max(2, round(frac * h))
    return cv2.copyMakeBorder(line, p // 2, p // 2, p, p, cv2.BORDER_REPLICATE)


def deskew(img: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, float]:
    """Level the text using the slope of the character bottoms (small angles only)."""
    if len(boxes) < 4:
        return img, 0.0
    cx = boxes[:, 0] + boxes[:, 2] / 2.0
    by = boxes[:, 1] + boxes[:, 3]
    slope = float(np.polyfit(cx, by, 1)[0])
    angle = float(np.degrees(np.arctan(slope)))
    if abs(angle) < 1.0 or abs(angle) > 20.0:
        return img, 0.0
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE), angle


def split_lines(plate: np.ndarray, n_lines: int | None = None) -> PlateLines:
    """Cut a plate crop (BGR) into line crops; n_lines None = decide from the shape."""
    H0, W0 = plate.shape[:2]
    scale = WORK_W / W0
    img = cv2.resize(plate, (WORK_W, max(8, round(H0 * scale))), interpolation=cv2.INTER_AREA)
    H = img.shape[0]
    grey = _grey(img)
    two_line: _Mask | None = None
    if n_lines is None:
        n_lines, two_line = count_lines(grey, W0 / max(H0, 1))
    rng_h = (0.18 * H, 0.6 * H) if n_lines == 2 else (0.35 * H, 0.98 * H)
    # Counting the lines already made the two-line mask of this image: it is the same one.
    mask, inverted, boxes = (
        two_line if n_lines == 2 and two_line is not None else text_mask_boxes(grey, *rng_h)
    )
    img, angle = deskew(img, boxes) if n_lines == 1 else _deskew_two(img, boxes, H)
    if angle:
        mask, inverted, boxes = text_mask_boxes(_grey(img), *rng_h)
    if n_lines == 1:
        lines = [_line_from_boxes(img, boxes, 0, H)]
    else:
        cut = _rows_gap(mask)
        top = boxes[boxes[:, 1] + boxes[:, 3] / 2 < cut]
        bottom = boxes[boxes[:, 1] + boxes[:, 3] / 2 >= cut]
        lines = [
            _line_from_boxes(img, top, 0, cut, clamp=(0, cut + 2)),
            _line_from_boxes(img, bottom, cut, H, clamp=(cut - 2, H)),
        ]
    bbox = (0, 0, W0, H0)
    return PlateLines(tuple(_pad(ln) for ln in lines), bbox, inverted)


#: A text mask, whether it is light-on-dark, and its character boxes (``text_mask_boxes``).
_Mask = tuple[np.ndarray, bool, np.ndarray]


def count_lines(grey: np.ndarray, aspect: float) -> tuple[int, _Mask]:
    """1 or 2 text lines, from the character blobs when they are clear, else the aspect; and
    the two-line mask it made on the way (``text_mask_boxes``), for ``split_lines`` to reuse."""
    H = grey.shape[0]
    mask2, inverted2, two = text_mask_boxes(grey, 0.18 * H, 0.6 * H)
    cut = _rows_gap(mask2)
    centres = two[:, 1] + two[:, 3] / 2.0
    n_top, n_bottom = int((centres < cut).sum()), int((centres >= cut).sum())
    n_one = len(text_mask_boxes(grey, 0.55 * H, 0.98 * H)[2])
    if n_top >= 2 and n_bottom >= 3 and n_top + n_bottom > n_one:
        n = 2
    elif n_one >= 5:
        n = 1
    else:
        n = 1 if aspect >= 2.6 else 2
    return n, (mask2, inverted2, two)


def _deskew_two(img: np.ndarray, boxes: np.ndarray, H: int) -> tuple[np.ndarray, float]:
    lower = boxes[boxes[:, 1] + boxes[:, 3] / 2 > H / 2]
    return deskew(img, lower)


def _line_from_boxes(
    img: np.ndarray, boxes: np.ndarray, y0: int, y1: int, clamp: tuple[int, int] | None = None
) -> np.ndarray:
    """The band y0..y1, tightened to the character boxes in it when they look reliable."""
    W = img.shape[1]
    if len(boxes) >= 2:
        hs = boxes[:, 3]
        med = float(np.median(hs))
        good = boxes[(hs > 0.6 * med) & (hs < 1.4 * med)]
        if len(good) >= 2:
            top = float(np.percentile(good[:, 1], 20))
            bot = float(np.percentile(good[:, 1] + good[:, 3], 80))
            left = float(good[:, 0].min())
            right = float((good[:, 0] + good[:, 2]).max())
            mh = 0.18 * med
            if not TIGHT_X:
                # Missed edge characters cost more than a bit of frame: keep a wide margin.
                left = max(2 * mh, left - MARGIN_X * med)
                right = min(W - 2 * mh, right + MARGIN_X * med)
            ya, yb = top - mh, bot + mh
            if clamp is not None:
                ya, yb = max(ya, clamp[0]), min(yb, clamp[1])
            return _crop(img, left - 2 * mh, ya, right + 2 * mh, yb)
    return _crop(img, 0, y0, W, y1)
