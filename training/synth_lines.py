"""Synthetic line crops for the recognizer, cut the way the reading pipeline cuts real plates.

A plate is rendered by simulator.plates at a random resolution, put on a random surround, seen
slightly off-axis and often sheared (deskew is never perfect), degraded by camera effects at its
true resolution, and then one text line is cropped: usually tight around the characters with
random margins (lpr.lines does that), sometimes as the whole half of a two-line plate or the
whole one-line plate (the fallback when no character boxes are found). Only synthetic data:
never real images.
"""

from __future__ import annotations

import cv2
import numpy as np

from simulator.plates import augment, random_spec, render_plate


def _surround(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """What is around a plate: car paint, a dark plate holder, a bumper, road."""
    base = rng.integers(0, 256, 3).astype(np.float32)
    if rng.random() < 0.4:
        base *= 0.25
    # Blotchy texture drawn small and scaled up: cheap, and not a flat colour.
    small = base + rng.normal(0, rng.uniform(2, 25), (max(2, h // 8), max(2, w // 8), 1))
    small = np.clip(small, 0, 255).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def make_samples(rng: np.random.Generator) -> list[tuple[np.ndarray, str]]:
    """(grey uint8 line crop of any size, its text) for each line of one random plate."""
    spec = random_spec(rng)
    # Resolution of the plate as the camera saw it (plate height in pixels).
    # Skewed towards low resolutions: most real crops are upscaled from small video plates.
    u = rng.random() ** 1.7
    true_h = float(26 + 104 * u if spec.layout != "long" else 20 + 50 * u)
    render_h = int(np.clip(true_h * rng.uniform(1.2, 2.0), 40, 130))
    plate = render_plate(spec, rng, height=render_h)
    face = plate.image
    ph, pw = face.shape[:2]

    # Surround and a small residual perspective.
    mx, my = int(pw * rng.uniform(0.05, 0.25)), int(ph * rng.uniform(0.05, 0.3))
    canvas = _surround(ph + 2 * my, pw + 2 * mx, rng)
    offset = np.array([mx, my], np.float32)
    quad = augment.perspective_quad(pw, ph, rng, strength=0.05, max_rot_deg=3.0) + offset
    if rng.random() < 0.6:
        # Horizontal shear: real crops often lean like italics (camera yaw and roll that the
        # crop does not undo), which is where a flagged "1" starts to look like a "7".
        quad[:, 0] += rng.uniform(-0.2, 0.2) * (quad[:, 1] - quad[:, 1].mean())
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    hmat = cv2.getPerspectiveTransform(src, quad)
    size = (canvas.shape[1], canvas.shape[0])
    warped = cv2.warpPerspective(face, hmat, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), hmat, size)
    a = mask.astype(np.float32)[..., None] / 255.0
    img = (warped * a + canvas * (1 - a)).astype(np.uint8)

    # Down to the true resolution, camera effects there, and back up (the pipeline's crops of
    # low-resolution plates are upscaled too).
    scale = true_h / ph
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = augment.photometric(small, rng, strength=rng.uniform(0.4, 1.1), min_h=34)
    up = float(rng.uniform(1.0, 2.0))
    interp = cv2.INTER_CUBIC if rng.random() < 0.5 else cv2.INTER_LINEAR
    img = cv2.resize(small, None, fx=up, fy=up, interpolation=interp)
    f = scale * up

    # Transform each line's box into the degraded image and crop it.
    band = rng.random() < 0.4
    return [
        (_crop_line(img, plate.line_boxes[i], hmat, f, src, band, i, len(spec.lines), rng), text)
        for i, text in enumerate(spec.lines)
    ]


def _crop_line(
    img: np.ndarray,
    box: tuple[float, float, float, float],
    hmat: np.ndarray,
    f: float,
    src: np.ndarray,
    band: bool,
    idx: int,
    n_lines: int,
    rng: np.random.Generator,
) -> np.ndarray:
    x0, y0, x1, y1 = box
    corners = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], np.float32)
    pts = cv2.perspectiveTransform(corners, hmat)[0] * f
    lx0, ly0 = pts.min(axis=0)
    lx1, ly1 = pts.max(axis=0)
    lh = ly1 - ly0
    H, W = img.shape[:2]
    if band:
        # Band crop: the full plate width, half the plate for two-line plates.
        pq = cv2.perspectiveTransform(src[None], hmat)[0] * f
        px0, py0 = pq.min(axis=0)
        px1, py1 = pq.max(axis=0)
        ext = rng.uniform(-0.02, 0.06, 4) * (px1 - px0)
        cx0, cx1 = px0 - ext[0], px1 + ext[1]
        if n_lines == 1:
            cy0, cy1 = py0 - ext[2] * 0.3, py1 + ext[3] * 0.3
        else:
            mid = (py0 + py1) / 2 + rng.uniform(-0.06, 0.06) * (py1 - py0)
            cy0, cy1 = (py0 - ext[2] * 0.3, mid) if idx == 0 else (mid, py1 + ext[3] * 0.3)
    else:
        # Tight crop around the characters, margins as lpr.lines makes them (plus jitter).
        m = rng.uniform(0.0, 0.35, 2) * lh
        s = rng.uniform(0.05, 0.7, 2) * lh
        cx0, cx1 = lx0 - s[0], lx1 + s[1]
        cy0, cy1 = ly0 - m[0], ly1 + m[1]
    xa, ya = max(0, round(cx0)), max(0, round(cy0))
    xb, yb = min(W, round(cx1)), min(H, round(cy1))
    crop = img[ya:yb, xa:xb]
    if crop.shape[0] < 4 or crop.shape[1] < 4:
        crop = img
    if rng.random() < 0.5:
        p = max(2, round(0.12 * crop.shape[0]))
        crop = cv2.copyMakeBorder(crop, p // 2, p // 2, p, p, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
