"""Text line masks in a plate-like narrow font.

Lines are drawn once at a large size with PIL, cropped to the cap height (so digits, letters,
``-`` and ``.`` keep their real vertical positions) and then stretched to the box the plate
layout asks for; real plates squeeze their characters to fill the plate, which is what the
stretch imitates. Before the stretch the strokes are thinned or thickened at the draw size
(real plate lettering is light: the stem is about 1/6-1/7 of a digit's width, where OSP-DIN's
is 1/3.5), and the plate "1" (long flag) and "M" (shallow middle V) can be drawn by hand instead
of taking the font's glyphs, which differ from the plate's in exactly the ways a reader confuses
(1/7, M/N/H).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(__file__).with_name("fonts")
# (file, weight in the random choice). OSP-DIN is the closest free match to the Vietnamese plate
# lettering (a condensed DIN) in shape, but much bolder: its strokes are thinned when drawn
# (``stroke_change``). Roboto Condensed (Regular is near the real weight) adds variety.
FONTS: tuple[tuple[str, float], ...] = (
    ("OSP-DIN.ttf", 0.6),
    ("RobotoCondensed-Regular.ttf", 0.25),
    ("RobotoCondensed-Medium.ttf", 0.15),
)
_DRAW_SIZE = 96
_SEP_SPACE = 0.08  # extra space each side of "-" and ".", as a fraction of the font size
# Glyph variants drawn by hand instead of the font's glyph (bits of ``variant``): the plate "1"
# with a long flag at the top left, the plate "M" whose middle V stops well above the baseline,
# and the plate "Y".
VARIANT_ONE = 1
VARIANT_M = 2
VARIANT_Y = 4  # the plate "Y": short arms meeting about a third of the way down
VARIANT_M_SHALLOW = 8  # with VARIANT_M: the V stops higher still


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


def _ink_runs(name: str, ch: str, frac: float) -> list[np.ndarray]:
    """Runs of inked columns across ``ch`` drawn at (10, 10), ``frac`` of the way down its ink."""
    img = Image.new("L", (_DRAW_SIZE * 2, _DRAW_SIZE * 2), 0)
    ImageDraw.Draw(img).text((10, 10), ch, font=_font(name), fill=255)
    arr = np.asarray(img) > 127
    rows = np.flatnonzero(arr.any(axis=1))
    cols = np.flatnonzero(arr[rows[0] + int((rows[-1] - rows[0]) * frac)])
    return np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)


@lru_cache(maxsize=8)
def font_stroke(name: str) -> tuple[float, float]:
    """(vertical stem width, ink width of "0") of the font at the draw size, in pixels."""
    stem = float(len(_ink_runs(name, "H", 0.25)[0]))  # a quarter down: through both stems
    x0, _, x1, _ = _font(name).getbbox("0")
    return stem, float(x1 - x0)


@lru_cache(maxsize=8)
def _one_stem(name: str) -> tuple[float, float]:
    """x range of the font's own "1" stem (low down, below any flag), relative to the pen."""
    widest = max(_ink_runs(name, "1", 0.75), key=len)
    return float(widest[0] - 10), float(widest[-1] + 1 - 10)


def _draw_one(
    draw: ImageDraw.ImageDraw,
    font_name: str,
    stem: float,
    x: float,
    top: float,
    bottom: float,
) -> None:
    """A plate "1": the font's stem position, and a long, shallow flag to the left of its top."""
    a, b = _one_stem(font_name)
    c = x + (a + b) / 2
    sx0, sx1 = c - stem / 2, c + stem / 2
    fx = sx0 - 1.8 * stem  # the flag's far end
    fy = top + 0.2 * (bottom - top)
    t = 0.8 * stem
    draw.rectangle([sx0, top, sx1 - 1, bottom - 1], 255)
    draw.polygon([(sx0 + 1, top), (sx0 + 1, top + 1.2 * t), (fx, fy + t), (fx, fy)], 255)


def _m_width(font_name: str) -> tuple[float, float]:
    """(ink width of the hand-drawn plate "M", how much narrower than the font's M it is)."""
    font = _font(font_name)
    left, _, right, _ = font.getbbox("M")
    _, zero_w = font_stroke(font_name)
    w = min(float(right - left), 1.2 * zero_w)
    return w, float(right - left) - w


def _draw_m(
    draw: ImageDraw.ImageDraw,
    font_name: str,
    stem: float,
    x: float,
    top: float,
    bottom: float,
    shallow: bool = False,
) -> None:
    """A plate "M": narrow, vertical sides, the middle V meeting about half-way down
    (``shallow``: about 40 % of the way)."""
    left, _, _, _ = _font(font_name).getbbox("M")
    w, _ = _m_width(font_name)
    x0 = x + left
    x1 = x0 + w
    cx = (x0 + x1) / 2
    vy = top + (0.4 if shallow else 0.5) * (bottom - top)
    d = 1.1 * stem
    draw.rectangle([x0, top, x0 + stem - 1, bottom - 1], 255)
    draw.rectangle([x1 - stem, top, x1 - 1, bottom - 1], 255)
    draw.polygon([(x0, top), (x0 + d, top), (cx + d / 2, vy), (cx - d / 2, vy)], 255)
    draw.polygon([(x1 - d, top), (x1, top), (cx + d / 2, vy), (cx - d / 2, vy)], 255)


def _draw_y(
    draw: ImageDraw.ImageDraw,
    font_name: str,
    stem: float,
    x: float,
    top: float,
    bottom: float,
) -> None:
    """A plate "Y": a long stem, short arms from the top corners meeting a third of the way down."""
    font = _font(font_name)
    left, _, right, _ = font.getbbox("Y")
    _, zero_w = font_stroke(font_name)
    w = min(float(right - left), 1.05 * zero_w)
    x0 = x + left + (right - left - w) / 2
    x1 = x0 + w
    cx = (x0 + x1) / 2
    vy = top + 0.34 * (bottom - top)
    d = 1.15 * stem
    draw.rectangle([cx - stem / 2, vy, cx + stem / 2 - 1, bottom - 1], 255)
    draw.polygon(
        [(x0, top), (x0 + d, top), (cx + stem / 2, vy + stem / 2), (cx - stem / 2, vy)], 255
    )
    draw.polygon(
        [(x1 - d, top), (x1, top), (cx + stem / 2, vy), (cx - stem / 2, vy + stem / 2)], 255
    )


def _advance(font: ImageFont.FreeTypeFont, font_name: str, ch: str, variant: int) -> float:
    adv = float(font.getlength(ch))
    if ch == "M" and variant & VARIANT_M:
        adv -= _m_width(font_name)[1]
    return adv


@lru_cache(maxsize=4096)
def line_mask(
    text: str, font_name: str, tracking: float, dstroke: bool, variant: int = 0
) -> np.ndarray:
    """uint8 mask (255 = ink) of ``text`` cropped to its ink width and the cap height.

    ``tracking`` is extra spacing between characters as a fraction of the font size;
    ``variant`` selects the hand-drawn "1"/"M"/"Y" (``VARIANT_*`` bits).
    Cached: the same line is drawn many times by the load tests and by training.
    """
    font = _font(font_name)
    cap_top, cap_bottom = _cap_box(font_name)
    stem, _ = font_stroke(font_name)
    pad = _DRAW_SIZE // 2
    # Real plates leave clear space around the hyphen and the dot.
    sep = _SEP_SPACE * _DRAW_SIZE
    n_sep = sum(c in "-." for c in text)
    width = int(
        sum(_advance(font, font_name, c, variant) for c in text)
        + tracking * _DRAW_SIZE * len(text)
        + 2 * sep * n_sep
    )
    width += 2 * pad
    height = cap_bottom - cap_top + 2 * pad
    img = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(img)
    x = float(pad)
    for i, ch in enumerate(text):
        if ch in "-.":
            x += sep
        _draw_char(draw, font_name, ch, x, (pad, cap_top, cap_bottom), stem, variant)
        if dstroke and ch == "D" and i > 0 and text[i - 1] == "M":
            _d_stroke(draw, font, x, pad - cap_top)
        x += (
            _advance(font, font_name, ch, variant)
            + tracking * _DRAW_SIZE
            + (sep if ch in "-." else 0.0)
        )
    arr = np.asarray(img)
    cols = np.flatnonzero(arr.max(axis=0) > 0)
    if cols.size == 0:
        return np.zeros((cap_bottom - cap_top, 1), np.uint8)
    return np.ascontiguousarray(arr[pad : pad + cap_bottom - cap_top, cols[0] : cols[-1] + 1])


def _draw_char(
    draw: ImageDraw.ImageDraw,
    font_name: str,
    ch: str,
    x: float,
    box: tuple[int, int, int],
    stem: float,
    variant: int,
) -> None:
    """One character at ``x``: the hand-drawn "1"/"M"/"Y" when ``variant`` asks, else the font's.

    ``box``: the padding, and the font's cap top and bottom.
    """
    pad, cap_top, cap_bottom = box
    top, bottom = float(pad), float(pad + cap_bottom - cap_top)
    if ch == "1" and variant & VARIANT_ONE:
        _draw_one(draw, font_name, stem, x, top, bottom)
    elif ch == "M" and variant & VARIANT_M:
        _draw_m(draw, font_name, stem, x, top, bottom, bool(variant & VARIANT_M_SHALLOW))
    elif ch == "Y" and variant & VARIANT_Y:
        _draw_y(draw, font_name, stem, x, top, bottom)
    else:
        draw.text((x, pad - cap_top), ch, font=_font(font_name), fill=255)


def _d_stroke(draw: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont, x: float, y0: int) -> None:
    """The Vietnamese D-stroke: a short bar across the stem of the D drawn at ``x``."""
    left, t, r, b = font.getbbox("D")
    y = y0 + (t + b) / 2
    stroke = max(2, (r - left) // 6)
    draw.rectangle(
        [x + left - stroke, y - stroke / 2, x + left + (r - left) * 0.45, y + stroke / 2],
        255,
    )


def stroke_change(font_name: str, ratio: float) -> float:
    """Pixels (at the draw size, per side) to add to the strokes so that the stem is
    ``1/ratio`` of the width of a "0" (real plates: about 1/6-1/7; negative = thin)."""
    stem, zero_w = font_stroke(font_name)
    target = max(3.0, zero_w / ratio)
    return (target - stem) / 2


def _restroke(mask: np.ndarray, delta: float) -> np.ndarray:
    """Thicken (``delta`` > 0) or thin the ink by ``delta`` pixels per side, anti-aliased."""
    ink = (mask > 127).astype(np.uint8)
    if delta < 0:
        dist = cv2.distanceTransform(ink, cv2.DIST_L2, 5)
        a = np.clip(dist + delta + 0.5, 0.0, 1.0) * ink
    else:
        dist = cv2.distanceTransform(1 - ink, cv2.DIST_L2, 5)
        a = np.clip(delta - dist + 0.5, 0.0, 1.0)
        a = np.maximum(a, ink.astype(np.float32))
    return (a * 255).astype(np.uint8)


def stretched_line(
    text: str,
    font_name: str,
    tracking: float,
    dstroke: bool,
    size: tuple[int, int],
    weight: float,
    variant: int = 0,
) -> np.ndarray:
    """The line mask resized to ``size`` (w, h); ``weight`` (pixels per side at the draw size)
    > 0 thickens, < 0 thins the strokes."""
    mask = line_mask(text, font_name, round(tracking, 3), dstroke, variant)
    if abs(weight) >= 0.25:
        pad = int(np.ceil(max(weight, 0.0))) + 1
        big = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        mask = _restroke(big, weight)[pad:-pad, pad:-pad]
    w, h = max(1, size[0]), max(1, size[1])
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)
