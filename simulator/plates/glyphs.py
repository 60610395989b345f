"""Text line masks in a plate-like narrow font.

Lines are drawn once at a large size with PIL, cropped to the cap height (so digits, letters,
``-`` and ``.`` keep their real vertical positions) and then stretched to the box the plate
layout asks for; real plates squeeze their characters to fill the plate, which is what the
stretch imitates.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(__file__).with_name("fonts")
# (file, weight in the random choice, natural stroke tweak). OSP-DIN is the closest free match to
# the Vietnamese plate lettering (a condensed DIN); Roboto Condensed adds variety.
FONTS: tuple[tuple[str, float], ...] = (("OSP-DIN.ttf", 0.75), ("RobotoCondensed-Medium.ttf", 0.25))
_DRAW_SIZE = 96
_SEP_SPACE = 0.08  # extra space each side of "-" and ".", as a fraction of the font size


@lru_cache(maxsize=8)
def _font(name: str) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"plate font missing: {path}")
    return ImageFont.truetype(str(path), _DRAW_SIZE)


def pick_font(rng: np.random.Generator) -> str:
    names = [n for n, _ in FONTS]
    weights = np.array([w for _, w in FONTS])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


@lru_cache(maxsize=8)
def _cap_box(name: str) -> tuple[int, int]:
    """Top and bottom (baseline) of capital letters, for text drawn at y=0."""
    _, top, _, bottom = _font(name).getbbox("H0")
    return int(top), int(bottom)


@lru_cache(maxsize=4096)
def line_mask(text: str, font_name: str, tracking: float, dstroke: bool) -> np.ndarray:
    """uint8 mask (255 = ink) of ``text`` cropped to its ink width and the cap height.

    ``tracking`` is extra spacing between characters as a fraction of the font size.
    Cached: the same line is drawn many times by the load tests and by training.
    """
    font = _font(font_name)
    cap_top, cap_bottom = _cap_box(font_name)
    pad = _DRAW_SIZE // 2
    # Real plates leave clear space around the hyphen and the dot.
    sep = _SEP_SPACE * _DRAW_SIZE
    n_sep = sum(c in "-." for c in text)
    width = int(
        sum(font.getlength(c) for c in text) + tracking * _DRAW_SIZE * len(text) + 2 * sep * n_sep
    )
    width += 2 * pad
    height = cap_bottom - cap_top + 2 * pad
    img = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(img)
    x = float(pad)
    for i, ch in enumerate(text):
        if ch in "-.":
            x += sep
        draw.text((x, pad - cap_top), ch, font=font, fill=255)
        if dstroke and ch == "D" and i > 0 and text[i - 1] == "M":
            # The Vietnamese D-stroke: a short bar across the D's stem.
            left, t, r, b = font.getbbox("D")
            y = pad - cap_top + (t + b) / 2
            stroke = max(2, (r - left) // 6)
            draw.rectangle(
                [x + left - stroke, y - stroke / 2, x + left + (r - left) * 0.45, y + stroke / 2],
                255,
            )
        x += font.getlength(ch) + tracking * _DRAW_SIZE + (sep if ch in "-." else 0.0)
    arr = np.asarray(img)
    cols = np.flatnonzero(arr.max(axis=0) > 0)
    if cols.size == 0:
        return np.zeros((cap_bottom - cap_top, 1), np.uint8)
    return np.ascontiguousarray(arr[pad : pad + cap_bottom - cap_top, cols[0] : cols[-1] + 1])


def stretched_line(
    text: str, font_name: str, tracking: float, dstroke: bool, size: tuple[int, int], weight: int
) -> np.ndarray:
    """The line mask resized to ``size`` (w, h); ``weight`` > 0 thickens, < 0 thins strokes."""
    mask = line_mask(text, font_name, round(tracking, 3), dstroke)
    if weight:
        kernel = np.ones((3, 3), np.uint8)
        op = cv2.dilate if weight > 0 else cv2.erode
        mask = op(mask, kernel, iterations=abs(weight))
    w, h = max(1, size[0]), max(1, size[1])
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)
