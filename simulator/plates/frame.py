"""Whole 1280x720 gate-camera frames with one plate in them, plus the ground truth.

The gate simulator and the load tests call ``render_frame`` for every passage, so it is kept
cheap: the scene backgrounds are drawn once per process and reused, only the plate's
neighbourhood is warped and blurred, and frame-wide effects are single OpenCV calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

import cv2
import numpy as np

from simulator.plates import augment
from simulator.plates.render import PLATE_MM, render_plate
from simulator.plates.strings import PlateSpec, random_spec

FRAME_W, FRAME_H = 1280, 720
_N_BACKGROUNDS = 6
#: Conditions that make a gate camera's read hard, each one stronger than the everyday mix:
#: a muddy plate, sun or headlight glare, night, the blur of a car that did not stop, a plate
#: seen at an angle (a bent bracket, a car turning in).
HardCase = Literal["dirt", "glare", "night", "motion", "tilt"]
HARD_CASES: tuple[HardCase, ...] = get_args(HardCase)


@dataclass(frozen=True)
class RenderedFrame:
    """A camera frame and where its plate is.

    ``quad`` holds the plate's corners (TL, TR, BR, BL) in frame pixels; ``bbox`` is the
    axis-aligned box around them, clipped to the frame (x0, y0, x1, y1; x1/y1 exclusive).
    """

    image: np.ndarray  # 720 x 1280 x 3 uint8, BGR
    jpeg: bytes | None
    spec: PlateSpec
    quad: tuple[tuple[float, float], ...]
    bbox: tuple[int, int, int, int]
    night: bool
    hard: HardCase | None = None

    @property
    def text(self) -> str:
        return self.spec.text


@lru_cache(maxsize=_N_BACKGROUNDS)
def _background(index: int) -> np.ndarray:
    """A gate scene without a vehicle: sky/buildings, a booth, the road with markings."""
    rng = np.random.default_rng(10_000 + index)
    img = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    horizon = int(rng.integers(180, 300))
    top = rng.integers(120, 230, 3).astype(np.float32)
    ramp = (0.75 + 0.25 * np.arange(horizon, dtype=np.float32) / horizon)[:, None, None]
    img[:horizon] = np.clip(top * ramp, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(4, 9))):  # buildings, gate booth, barrier posts
        x0 = int(rng.integers(0, FRAME_W - 100))
        w = int(rng.integers(60, 300))
        y0 = int(rng.integers(40, horizon))
        cv2.rectangle(
            img, (x0, y0), (x0 + w, horizon + 40), [int(v) for v in rng.integers(40, 200, 3)], -1
        )
    road = rng.integers(70, 120)
    grad = np.linspace(0.8, 1.15, FRAME_H - horizon, dtype=np.float32)[:, None, None]
    img[horizon:] = np.clip(road * grad * np.ones((1, FRAME_W, 3), np.float32), 0, 255).astype(
        np.uint8
    )
    tex = rng.normal(0, 6, (FRAME_H - horizon, FRAME_W, 1))
    img[horizon:] = np.clip(img[horizon:].astype(np.float32) + tex, 0, 255).astype(np.uint8)
    for x in (int(FRAME_W * 0.15), int(FRAME_W * 0.85)):  # lane markings
        cv2.line(
            img, (FRAME_W // 2 + (x - FRAME_W // 2) // 4, horizon), (x, FRAME_H), (210, 210, 210), 6
        )
    return img


def _vehicle(
    img: np.ndarray, spec: PlateSpec, rng: np.random.Generator, cx: int, pw: int, py: int
) -> None:
    """A car rear or a motorbike rear around where the plate goes (x centre, plate width, y)."""
    colour = [int(v) for v in rng.integers(20, 235, 3)]
    if spec.layout == "motorbike":
        body_w = int(pw * rng.uniform(2.0, 3.0))
        cv2.ellipse(img, (cx, py - pw // 2), (body_w // 2, pw), 0, 0, 360, colour, -1)
        cv2.rectangle(
            img, (cx - pw // 5, py), (cx + pw // 5, py + pw * 2), (25, 25, 25), -1
        )  # tyre
        cv2.circle(img, (cx, py - pw // 3), max(4, pw // 8), (40, 40, 200), -1)  # tail light
        return
    body_w = int(pw * (rng.uniform(3.2, 3.8) if spec.layout == "long" else rng.uniform(4.5, 6.0)))
    top = int(py - body_w * rng.uniform(0.45, 0.6))
    x0, x1 = cx - body_w // 2, cx + body_w // 2
    cv2.rectangle(img, (x0, top), (x1, py + int(pw * 0.6)), colour, -1)
    glass = [int(c * 0.4) for c in colour]
    cv2.rectangle(img, (x0 + body_w // 8, top - body_w // 4), (x1 - body_w // 8, top), glass, -1)
    cv2.rectangle(
        img, (x0 - 4, py + int(pw * 0.3)), (x1 + 4, py + int(pw * 0.65)), (30, 30, 30), -1
    )
    for lx in (x0 + body_w // 12, x1 - body_w // 12):
        cv2.circle(img, (lx, top + body_w // 10), max(5, body_w // 18), (30, 30, 190), -1)


def _plate_width(spec: PlateSpec, rng: np.random.Generator) -> int:
    if spec.layout == "long":
        return int(rng.integers(150, 320))
    if spec.layout == "square":
        return int(rng.integers(100, 190))
    return int(rng.integers(80, 160))


def render_frame(
    rng: np.random.Generator,
    spec: PlateSpec | None = None,
    *,
    encode_jpeg: bool = True,
    jpeg_quality: int = 85,
    night: bool | None = None,
    hard: HardCase | None = None,
    dirt_seed: int | None = None,
) -> RenderedFrame:
    """One frame with one plate (``spec`` or a random valid plate); deterministic per rng state.

    ``hard``: one hard condition, stronger than the everyday mix (``night`` follows it when it
    is "night"); ``dirt_seed`` draws the mud of a "dirt" plate, so the frames of one passage
    show the same dirty plate.
    """
    if hard is not None and hard not in HARD_CASES:
        raise ValueError(f"unknown hard case {hard!r}; one of {', '.join(HARD_CASES)}")
    if hard == "night":
        night = True
    spec = spec or random_spec(rng)
    img = _background(int(rng.integers(_N_BACKGROUNDS))).copy()
    pw = _plate_width(spec, rng)
    mm_w, mm_h = PLATE_MM[spec.layout]
    # Supersample the plate, then the warp scales it down to its size in the frame.
    plate = render_plate(spec, rng, height=int(np.clip(pw * mm_h / mm_w * 2, 40, 200)))
    src_h, src_w = plate.image.shape[:2]
    ph = pw * src_h / src_w

    cx = int(rng.integers(FRAME_W // 2 - 300, FRAME_W // 2 + 300))
    py = int(rng.integers(FRAME_H // 2, FRAME_H - int(ph) - 60))
    _vehicle(img, spec, rng, cx, pw, py)

    quad = _plate_quad(pw, ph, rng, hard) + np.array([cx - pw / 2, py], np.float32)
    x0, y0 = np.floor(quad.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, FRAME_W), min(y1, FRAME_H)

    face = _weathered(plate.image, rng, hard, dirt_seed)
    _paste(img, face, quad, (x0, y0, x1, y1))

    # Focus/motion blur around the plate only (a fixed-focus gate camera), then the whole frame.
    bx0, by0 = max(x0 - 20, 0), max(y0 - 20, 0)
    bx1, by1 = min(x1 + 20, FRAME_W), min(y1 + 20, FRAME_H)
    around = (slice(by0, by1), slice(bx0, bx1))
    if hard == "motion":
        img[around] = _motion_blur(img[around], rng, pw)
    elif rng.random() < 0.6:
        img[around] = augment.blur(img[around], rng)
    is_night = bool(rng.random() < 0.2) if night is None else night
    img = _lit(img, rng, around, night=is_night)
    return RenderedFrame(
        image=img,
        jpeg=_jpeg(img, jpeg_quality) if encode_jpeg else None,
        spec=spec,
        quad=tuple((float(x), float(y)) for x, y in quad),
        bbox=(int(x0), int(y0), int(x1), int(y1)),
        night=is_night,
        hard=hard,
    )


def _paste(
    img: np.ndarray, face: np.ndarray, quad: np.ndarray, box: tuple[int, int, int, int]
) -> None:
    """Warp the plate's ``face`` onto ``quad`` of the frame (inside ``box``), edges blended."""
    x0, y0, x1, y1 = box
    src_h, src_w = face.shape[:2]
    src = np.array([[0, 0], [src_w, 0], [src_w, src_h], [0, src_h]], np.float32)
    hmat = cv2.getPerspectiveTransform(src, quad - np.array([x0, y0], np.float32))
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(face, hmat, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((src_h, src_w), 255, np.uint8), hmat, size)
    roi = img[y0:y1, x0:x1]
    a = mask.astype(np.float32)[..., None] / 255.0
    roi[:] = (warped * a + roi * (1 - a)).astype(np.uint8)


def _plate_quad(
    pw: float, ph: float, rng: np.random.Generator, hard: HardCase | None
) -> np.ndarray:
    """The plate's corners in the frame, before placing: slightly skewed, or for "tilt" (a bent
    bracket or a car turning in) rotated and foreshortened."""
    if hard != "tilt":
        return augment.perspective_quad(pw, ph, rng, strength=0.1, max_rot_deg=5.0)
    quad = augment.perspective_quad(pw, ph, rng, strength=0.22, max_rot_deg=14.0)
    if rng.random() < 0.5:
        mid = quad[:, 1].mean()
        quad[:, 1] = mid + (quad[:, 1] - mid) * rng.uniform(0.7, 0.85)
    return quad


def _weathered(
    face: np.ndarray, rng: np.random.Generator, hard: HardCase | None, dirt_seed: int | None
) -> np.ndarray:
    """The plate's face with glare, shadow and dirt: sometimes, or strong for its hard case."""
    if hard == "glare":
        face = _strong_glare(face, rng)
    elif rng.random() < 0.3:
        face = augment.glare(face, rng)
    if rng.random() < 0.2:
        face = augment.shadow(face, rng)
    if hard == "dirt":
        face = _mud(face, np.random.default_rng(dirt_seed) if dirt_seed is not None else rng)
    elif rng.random() < 0.2:
        face = augment.dirt(face, rng)
    return face


def _lit(
    img: np.ndarray,
    rng: np.random.Generator,
    around: tuple[slice, slice],
    *,
    night: bool,
) -> np.ndarray:
    """The frame's exposure: daylight, or night with the plate (``around``) kept brighter by a
    headlight or IR flash on its retro-reflective face, and sensor noise."""
    if not night:
        return cv2.convertScaleAbs(
            img, alpha=float(rng.uniform(0.8, 1.15)), beta=float(rng.uniform(-15, 15))
        )
    img = cv2.convertScaleAbs(
        img, alpha=float(rng.uniform(0.25, 0.5)), beta=float(rng.uniform(0, 10))
    )
    img[around] = cv2.convertScaleAbs(img[around], alpha=float(rng.uniform(1.3, 2.0)))
    img[around] = augment.noise(img[around], rng, float(rng.uniform(4, 12)))
    return img


def _jpeg(img: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf.tobytes())


def _mud(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Splashes over the plate and a brown film rising from its lower edge."""
    out = augment.dirt(augment.dirt(face, rng), rng)
    h = out.shape[0]
    ramp = np.clip((np.arange(h, dtype=np.float32) / h - rng.uniform(0.4, 0.7)) * 2.0, 0.0, 0.75)
    brown = np.array([40, 70, 95], np.float32) * rng.uniform(0.8, 1.2)
    a = ramp[:, None, None]
    return np.clip(out * (1 - a) + brown * a, 0, 255).astype(np.uint8)


def _strong_glare(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A washed-out highlight over part of the characters (low sun on a reflective plate)."""
    out = augment.glare(augment.glare(face, rng), rng)
    return augment.washout(out, rng) if rng.random() < 0.5 else out


def _motion_blur(roi: np.ndarray, rng: np.random.Generator, plate_w: int) -> np.ndarray:
    """Blur along the direction of travel, a few percent of the plate's width long."""
    k = max(3, int(plate_w * rng.uniform(0.02, 0.05)) | 1)
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0
    angle = float(rng.uniform(-20, 20) + (90 if rng.random() < 0.3 else 0))
    rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), angle, 1.0)
    turned = cv2.warpAffine(kernel, rot, (k, k))
    return cv2.filter2D(roi, -1, (turned / max(float(turned.sum()), 1e-6)).astype(np.float32))


def render_passage(
    rng: np.random.Generator, n: int = 3, spec: PlateSpec | None = None, **kwargs: object
) -> list[RenderedFrame]:
    """``n`` frames of one vehicle passing (same plate, each frame drawn afresh; a hard case,
    given as ``hard=``, holds for the whole passage, a dirty plate stays the same dirt)."""
    spec = spec or random_spec(rng)
    if kwargs.get("hard") == "dirt" and "dirt_seed" not in kwargs:
        kwargs["dirt_seed"] = int(rng.integers(2**31))
    return [render_frame(rng, spec, **kwargs) for _ in range(n)]  # type: ignore[arg-type]
