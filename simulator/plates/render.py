"""Flat, front-on Vietnamese plates: colours, border, screws and the text lines.

Proportions follow the real plates (mm): long car plate 520x110, square car plate 330x165,
motorbike plate 190x140. Geometry and lighting effects are applied afterwards
(simulator.plates.augment), so a flat plate plus its line boxes is also what the recognizer's
training crops start from.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from simulator.plates.glyphs import (
    VARIANT_M,
    VARIANT_M_SHALLOW,
    VARIANT_ONE,
    VARIANT_Y,
    line_mask,
    pick_font,
    stretched_line,
    stroke_change,
)
from simulator.plates.strings import Colour, Layout, PlateSpec

PLATE_MM: dict[Layout, tuple[float, float]] = {
    "long": (520.0, 110.0),
    "square": (330.0, 165.0),
    "motorbike": (190.0, 140.0),
}
# Per line: (centre y, text height) as fractions of the plate height.
LINE_LAYOUT: dict[Layout, tuple[tuple[float, float], ...]] = {
    "long": ((0.5, 0.64),),
    "square": ((0.285, 0.37), (0.715, 0.37)),
    "motorbike": ((0.28, 0.36), (0.715, 0.37)),
}
# Background and ink colours (BGR).
BG: dict[Colour, tuple[int, int, int]] = {
    "white": (232, 234, 236),
    "yellow": (40, 196, 238),
    "blue": (150, 72, 22),
}
INK: dict[Colour, tuple[int, int, int]] = {
    "white": (28, 28, 30),
    "yellow": (26, 26, 28),
    "blue": (238, 238, 240),
}


@dataclass(frozen=True)
class RenderedPlate:
    """A flat plate filling ``image``; ``line_boxes`` are the ink boxes (x0, y0, x1, y1)."""

    image: np.ndarray  # H x W x 3 uint8, BGR
    spec: PlateSpec
    line_boxes: tuple[tuple[float, float, float, float], ...]

    @property
    def text(self) -> str:
        return self.spec.text


def _jitter_colour(
    base: tuple[int, int, int], rng: np.random.Generator, amount: float
) -> np.ndarray:
    c = np.array(base, np.float32) + rng.normal(0.0, amount, 3)
    return np.clip(c * rng.uniform(0.85, 1.08), 0, 255)


def _tracking(line: str, rng: np.random.Generator) -> float:
    digits_only = line.replace(".", "").isdigit()
    if digits_only and len(line) == 4:  # old four-digit numbers are spaced wide
        return float(rng.uniform(0.06, 0.2))
    return float(rng.uniform(0.02, 0.1))


def render_plate(
    spec: PlateSpec, rng: np.random.Generator, height: int | None = None
) -> RenderedPlate:
    """Draw ``spec`` as a flat plate ``height`` pixels high (random 60-160 when None)."""
    plate_h = int(height if height is not None else rng.integers(60, 161))
    mm_w, mm_h = PLATE_MM[spec.layout]
    if spec.layout == "square":  # square car plates come from 330x165 down to nearly 4:3
        mm_w = float(rng.uniform(230.0, 330.0))
    plate_w = round(plate_h * mm_w / mm_h * rng.uniform(0.97, 1.03))
    bg = _jitter_colour(BG[spec.colour], rng, 8.0)
    ink = _jitter_colour(INK[spec.colour], rng, 6.0)

    img = _shaded(bg, plate_w, plate_h, rng)

    alpha = np.zeros((plate_h, plate_w), np.float32)
    font_name = pick_font(rng)
    # Stroke weight: real plate lettering is light, the stem about 1/6-1/7 of a digit's width
    # (OSP-DIN's is 1/3.5); some plates (and bold fonts' look under blur) are heavier.
    ratio = rng.uniform(5.0, 7.5) if rng.random() < 0.8 else rng.uniform(3.5, 5.0)
    weight = stroke_change(font_name, float(ratio))
    variant = _glyph_variant(rng)
    inner_w = plate_w * (1.0 - 2 * 0.035)
    fill = rng.uniform(0.82, 0.93)
    naturals = []
    trackings = []
    for line, (_, h_frac) in zip(spec.lines, LINE_LAYOUT[spec.layout], strict=True):
        tr = _tracking(line, rng)
        mask = line_mask(line, font_name, round(tr, 3), spec.dstroke, variant)
        naturals.append(mask.shape[1] / mask.shape[0] * h_frac * plate_h)
        trackings.append(tr)
    stretch = float(np.clip(fill * inner_w / max(naturals), 0.75, 1.7))

    boxes = []
    for line, (cy, h_frac), nat, tr in zip(
        spec.lines, LINE_LAYOUT[spec.layout], naturals, trackings, strict=True
    ):
        h = h_frac * plate_h * rng.uniform(0.96, 1.04)
        w = min(nat * stretch * rng.uniform(0.95, 1.05), 0.96 * inner_w)
        x0 = (plate_w - w) / 2 + rng.uniform(-0.015, 0.015) * plate_w
        y0 = cy * plate_h - h / 2 + rng.uniform(-0.015, 0.015) * plate_h
        xi, yi, wi, hi = round(x0), round(y0), max(1, round(w)), max(1, round(h))
        m = stretched_line(line, font_name, tr, spec.dstroke, (wi, hi), weight, variant)
        ys, xs = slice(max(yi, 0), min(yi + hi, plate_h)), slice(max(xi, 0), min(xi + wi, plate_w))
        alpha[ys, xs] = np.maximum(
            alpha[ys, xs], m[ys.start - yi : ys.stop - yi, xs.start - xi : xs.stop - xi] / 255.0
        )
        boxes.append((float(xi), float(yi), float(xi + wi), float(yi + hi)))

    alpha = np.maximum(alpha, _border(plate_w, plate_h, rng))

    img = img * (1 - alpha[..., None]) + ink[None, None, :] * alpha[..., None]
    img = img.astype(np.uint8)
    _screws(img, spec, rng, boxes)
    return RenderedPlate(image=img, spec=spec, line_boxes=tuple(boxes))


def _shaded(bg: np.ndarray, plate_w: int, plate_h: int, rng: np.random.Generator) -> np.ndarray:
    """The plate's background with slight shading across it, so it is never one flat colour."""
    gx = np.linspace(-1, 1, plate_w, dtype=np.float32)[None, :, None]
    gy = np.linspace(-1, 1, plate_h, dtype=np.float32)[:, None, None]
    shade = 1.0 + rng.uniform(-0.06, 0.06) * gx + rng.uniform(-0.06, 0.06) * gy
    return np.clip(bg[None, None, :] * shade, 0, 255)


def _glyph_variant(rng: np.random.Generator) -> int:
    """The plate "1" has a long flag, the plate "M" a shallow V and the plate "Y" short arms:
    hand-drawn on most plates."""
    variant = (VARIANT_ONE if rng.random() < 0.6 else 0) | (VARIANT_Y if rng.random() < 0.6 else 0)
    u = rng.random()
    return variant | (VARIANT_M if u < 0.35 else (VARIANT_M | VARIANT_M_SHALLOW if u < 0.7 else 0))


def _border(plate_w: int, plate_h: int, rng: np.random.Generator) -> np.ndarray:
    """The border's alpha: a line just inside the edge, in the ink colour, rounded corners."""
    border = np.zeros((plate_h, plate_w), np.uint8)
    inset = max(1, round(plate_h * rng.uniform(0.02, 0.045)))
    thick = max(1, round(plate_h * rng.uniform(0.015, 0.035)))
    radius = max(2, round(plate_h * 0.08))
    _rounded_rect(border, (inset, inset, plate_w - 1 - inset, plate_h - 1 - inset), radius, thick)
    return border.astype(np.float32) / 255.0


def _rounded_rect(
    canvas: np.ndarray, box: tuple[int, int, int, int], r: int, thickness: int
) -> None:
    x0, y0, x1, y1 = box
    r = min(r, (x1 - x0) // 2, (y1 - y0) // 2)
    cv2.line(canvas, (x0 + r, y0), (x1 - r, y0), 255, thickness, cv2.LINE_AA)
    cv2.line(canvas, (x0 + r, y1), (x1 - r, y1), 255, thickness, cv2.LINE_AA)
    cv2.line(canvas, (x0, y0 + r), (x0, y1 - r), 255, thickness, cv2.LINE_AA)
    cv2.line(canvas, (x1, y0 + r), (x1, y1 - r), 255, thickness, cv2.LINE_AA)
    for cx, cy, ang in (
        (x0 + r, y0 + r, 180),
        (x1 - r, y0 + r, 270),
        (x1 - r, y1 - r, 0),
        (x0 + r, y1 - r, 90),
    ):
        cv2.ellipse(canvas, (cx, cy), (r, r), ang, 0, 90, 255, thickness, cv2.LINE_AA)


def _screws(
    img: np.ndarray,
    spec: PlateSpec,
    rng: np.random.Generator,
    boxes: list[tuple[float, float, float, float]],
) -> None:
    """Two screw heads where real plates have them, if they fit beside the text."""
    if rng.random() < 0.3:
        return
    h, w = img.shape[:2]
    r = max(1, round(h * rng.uniform(0.025, 0.04)))
    x0, y0, x1, y1 = boxes[0]
    cy = round((y0 + y1) / 2)
    left, right = round(x0 / 2), round((x1 + w) / 2)
    if spec.layout == "long" and rng.random() < 0.5:
        cy, left, right = round(h * 0.12), round(w * 0.25), round(w * 0.75)
    metal = tuple(int(v) for v in rng.integers(90, 200, 3))
    for cx in (left, right):
        if r * 2 < min(x0, w - x1) or spec.layout == "long":
            cv2.circle(img, (cx, cy), r, metal, -1, cv2.LINE_AA)
            cv2.circle(img, (cx, cy), r, (40, 40, 40), 1, cv2.LINE_AA)
