"""Camera effects: what turns a clean rendered plate into one a gate camera actually sees.

Each effect takes and returns a BGR uint8 image and draws its randomness from the caller's
generator, so a seed reproduces a frame exactly. ``photometric`` chains them with
probabilities tuned by eye against the real dev crops (soft upscaled video frames, glare,
JPEG blocks, night noise).
"""

from __future__ import annotations

import cv2
import numpy as np


def perspective_quad(
    w: float, h: float, rng: np.random.Generator, strength: float = 0.08, max_rot_deg: float = 6.0
) -> np.ndarray:
    """Corners (TL, TR, BR, BL) of a ``w`` x ``h`` rectangle seen slightly off-axis."""
    quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    quad += (
        rng.uniform(-strength, strength, (4, 2)).astype(np.float32)
        * np.array([w, h], np.float32)
        * 0.5
    )
    # A yaw-like taper: one side shorter than the other.
    taper = rng.uniform(-strength, strength) * h
    quad[1, 1] += taper
    quad[2, 1] -= taper
    ang = np.deg2rad(rng.uniform(-max_rot_deg, max_rot_deg))
    c, s = np.cos(ang), np.sin(ang)
    centre = quad.mean(axis=0)
    rot = np.array([[c, -s], [s, c]], np.float32)
    return ((quad - centre) @ rot.T + centre).astype(np.float32)


def blur(img: np.ndarray, rng: np.random.Generator, max_sigma: float = 1.6) -> np.ndarray:
    if rng.random() < 0.3:  # motion blur along a random direction
        k = int(rng.integers(3, max(4, min(8, round(3 * max_sigma) + 2))))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        turned = cv2.warpAffine(kernel, rot, (k, k))
        return cv2.filter2D(img, -1, (turned / max(float(turned.sum()), 1e-6)).astype(np.float32))
    sigma = float(rng.uniform(0.3, max(0.4, max_sigma)))
    return cv2.GaussianBlur(img, (0, 0), sigma)


def resample(img: np.ndarray, rng: np.random.Generator, low: float = 0.25) -> np.ndarray:
    """Down- then up-scale: the soft, blocky look of plates cut from low-resolution video."""
    h, w = img.shape[:2]
    f = float(rng.uniform(low, 0.8))
    small = cv2.resize(
        img, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA
    )
    interp = [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST][
        int(rng.choice(3, p=[0.5, 0.4, 0.1]))
    ]
    return cv2.resize(small, (w, h), interpolation=interp)


def jpeg(img: np.ndarray, rng: np.random.Generator, q_low: int = 20) -> np.ndarray:
    q = int(rng.integers(q_low, 92))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    return img if out is None else np.asarray(out)


def noise(img: np.ndarray, rng: np.random.Generator, sigma: float | None = None) -> np.ndarray:
    s = float(rng.uniform(2, 12) if sigma is None else sigma)
    n = rng.normal(0.0, s, img.shape[:2])[..., None]
    return np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)


def glare(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bright elliptical highlight (sun or headlight on the reflective plate)."""
    h, w = img.shape[:2]
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    ax, ay = rng.uniform(0.1, 0.5) * w, rng.uniform(0.1, 0.5) * h
    yy, xx = np.ogrid[:h, :w]
    d = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2
    strength = rng.uniform(0.25, 0.7)
    a = (strength * np.exp(-d))[..., None].astype(np.float32)
    return np.clip(img * (1 - a) + 255 * a, 0, 255).astype(np.uint8)


def shadow(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hard-ish shadow edge across the plate (a pole, the car body, a person)."""
    h, w = img.shape[:2]
    p0 = (rng.uniform(0, w), 0.0)
    p1 = (rng.uniform(0, w), float(h))
    side = 1 if rng.random() < 0.5 else -1
    mask = np.zeros((h, w), np.uint8)
    far = side * 4 * w
    pts = np.array([p0, p1, (p1[0] + far, h), (p0[0] + far, 0)], np.int32)
    cv2.fillPoly(mask, [pts], 255)
    soft = cv2.GaussianBlur(mask, (0, 0), max(0.5, 0.02 * w)).astype(np.float32) / 255.0
    dark = rng.uniform(0.35, 0.75)
    return (img * (1 - soft[..., None] * (1 - dark))).astype(np.uint8)


def night(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dark, low contrast and noisy; sometimes the grey look of an infrared camera."""
    out = img.astype(np.float32) / 255.0
    if rng.random() < 0.35:
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
        out = np.repeat(g[..., None], 3, axis=2)
    out = out ** rng.uniform(1.0, 1.8) * rng.uniform(0.2, 0.55) + rng.uniform(0.0, 0.06)
    out *= np.array([rng.uniform(0.9, 1.15), 1.0, rng.uniform(0.85, 1.1)], np.float32)
    out8 = np.clip(out * 255, 0, 255).astype(np.uint8)
    return noise(out8, rng, float(rng.uniform(3, 14)))


def dirt(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    out = img.copy()
    for _ in range(int(rng.integers(3, 15))):
        c = (round(rng.uniform(0, w)), round(rng.uniform(0, h)))
        r = max(1, round(rng.uniform(0.005, 0.03) * max(w, h)))
        colour = tuple(int(v) for v in rng.integers(40, 140, 3))
        cv2.circle(out, c, r, colour, -1, cv2.LINE_AA)
    a = float(rng.uniform(0.15, 0.5))
    return cv2.addWeighted(out, a, img, 1 - a, 0)


def colour_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain = rng.uniform(0.7, 1.25) * rng.uniform(0.92, 1.08, 3)
    bias = rng.uniform(-25, 25)
    return np.clip(img.astype(np.float32) * gain.astype(np.float32) + bias, 0, 255).astype(np.uint8)


def washout(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lower contrast towards a light grey: over-exposed video of a reflective plate."""
    c = float(rng.uniform(0.35, 0.8))
    target = float(rng.uniform(110, 220))
    out = img.astype(np.float32) * c + target * (1 - c)
    return np.clip(out, 0, 255).astype(np.uint8)


def photometric(
    img: np.ndarray, rng: np.random.Generator, strength: float = 1.0, min_h: float = 0.0
) -> np.ndarray:
    """The usual chain for a plate-sized image; ``strength`` scales the probabilities.

    ``min_h``: the plate height (pixels) below which blur and resampling must not push it, so
    that a plate already seen at low resolution stays legible (the real crops were checked
    legible by eye; an unreadable training crop only teaches the model to guess).
    """
    p = min(1.0, strength)
    h = img.shape[0]
    max_sigma = float(np.clip(h / 40, 0.5, 1.6))
    low = float(np.clip(min_h / max(h, 1), 0.25, 0.8)) if min_h else 0.25
    if rng.random() < 0.25 * p:
        img = dirt(img, rng)
    if rng.random() < 0.25 * p:
        img = shadow(img, rng)
    if rng.random() < 0.3 * p:
        img = glare(img, rng)
    img = colour_jitter(img, rng)
    if rng.random() < 0.2 * p:
        img = night(img, rng)
    elif rng.random() < 0.3 * p:
        img = washout(img, rng)
    if rng.random() < 0.7 * p:
        img = blur(img, rng, max_sigma)
    if rng.random() < 0.6 * p and low < 0.79:
        img = resample(img, rng, low)
    if rng.random() < 0.5 * p:
        img = noise(img, rng)
    if rng.random() < 0.6 * p:
        img = jpeg(img, rng)
    return img
