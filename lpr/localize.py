"""Finding plates with OpenCV: in a full camera frame, or inside a camera-provided crop.

Cheap on purpose (a few milliseconds on a 1280x720 frame): dense vertical strokes (text) on a
plate-sized blob with a plate's aspect ratio, plus colour masks for yellow and blue plates.
Each candidate is checked for character-like blobs before the recognizer sees it, so the
recognizer runs on one or two regions, never on the whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from lpr.lines import text_mask_boxes

Colour = Literal["white", "yellow", "blue", "unknown"]
BBox = tuple[int, int, int, int]  # x, y, w, h


@dataclass(frozen=True, slots=True)
class PlateRegion:
    image: np.ndarray  # BGR plate crop with a small margin, levelled
    bbox: BBox  # in the input image
    lines_hint: int | None  # 1 or 2 from the aspect ratio, None when unsure
    colour: Colour
    score: float


class Localizer(Protocol):
    """What PlateReader needs of a plate finder."""

    def locate(self, image: np.ndarray, max_regions: int = 3) -> list[PlateRegion]: ...

    def refine(self, crop: np.ndarray) -> PlateRegion: ...


COLOUR_WIDTH = 128  # pixels: plate_colour's working width


def plate_colour(bgr: np.ndarray) -> Colour:
    # Shares of coloured pixels do not depend on the resolution: judge a small copy.
    h0, w0 = bgr.shape[:2]
    if w0 > COLOUR_WIDTH:
        size = (COLOUR_WIDTH, max(1, round(h0 * COLOUR_WIDTH / w0)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    sat = (s > 80) & (v > 60)
    if float((sat & (h >= 15) & (h <= 35)).mean()) > 0.35:
        return "yellow"
    if float((sat & (h >= 95) & (h <= 130)).mean()) > 0.35:
        return "blue"
    if float(((s < 60) & (v > 110)).mean()) > 0.3:
        return "white"
    return "unknown"


#: A plate is wider than tall: the square motorbike plate is 190 x 140 mm, and it stays wider
#: than tall up to about 40 degrees of yaw. Taller candidates (a sign's column of characters, a
#: stack of blobs down a car's body) cost most of the character counting (their 240-pixel-wide
#: work image is hundreds of rows high) and, when counted, can outrank the plate. Dropping them
#: left all 1,137 dev reads identical, cut the localizer's time on synthetic gate frames by
#: half (about 20 -> 11 ms per frame) and turned one wrong confident read of 300 into a right one.
MAX_HEIGHT_TO_WIDTH = 1.0


def _lines_hint(w: float, h: float) -> int | None:
    aspect = w / max(h, 1.0)
    if aspect >= 2.6:
        return 1
    if aspect <= 2.0:
        return 2
    return None


def _norm_rect(rect: tuple) -> tuple:
    """OpenCV's minAreaRect angle convention changed across versions: bring it to [-45, 45]."""
    (cx, cy), (w, h), a = rect
    while a > 45:
        a, w, h = a - 90, h, w
    while a < -45:
        a, w, h = a + 90, h, w
    return (cx, cy), (w, h), a


def _warp_rect(image: np.ndarray, rect: tuple, margin: float) -> np.ndarray:
    """Cut a rotated rectangle out upright, with a margin around it."""
    (cx, cy), (w, h), angle = _norm_rect(rect)
    w2, h2 = w * (1 + 2 * margin), h * (1 + 2 * margin)
    m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    m[0, 2] += w2 / 2 - cx
    m[1, 2] += h2 / 2 - cy
    return cv2.warpAffine(
        image, m, (max(8, round(w2)), max(8, round(h2))), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip


def _char_count(region: np.ndarray) -> int:
    h, w = region.shape[:2]
    if h < 10 or w < 10:
        return 0
    scale = 240 / w
    small = cv2.resize(region, (240, max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    H = small.shape[0]
    return len(text_mask_boxes(grey, 0.15 * H, 0.95 * H)[2])


def _char_blobs(small: np.ndarray) -> list[np.ndarray]:
    """Character-like blobs (x, y, w, h) of both polarities in a downscaled frame."""
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    H = grey.shape[0]
    out = []
    for g in (grey, 255 - grey):
        mask = cv2.adaptiveThreshold(
            g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 21, 8
        )
        stats = cv2.connectedComponentsWithStats(mask, connectivity=8)[2]
        st = stats[1:]
        x, y, w, h, a = st[:, 0], st[:, 1], st[:, 2], st[:, 3], st[:, 4]
        ok = (h >= 6) & (h <= 0.25 * H) & (h >= 1.0 * w) & (h <= 8 * w) & (a >= 0.15 * w * h)
        ok &= a <= 0.92 * w * h
        out.append(np.stack([x[ok], y[ok], w[ok], h[ok]], axis=1))
    return out


def _group_blobs(boxes: np.ndarray) -> list[np.ndarray]:
    """Union blobs of similar height that sit side by side or in two stacked rows."""
    n = len(boxes)
    if n < 4:
        return []
    order = np.argsort(boxes[:, 0])
    b = boxes[order].astype(np.float32)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    x, y, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    cy = y + h / 2
    for i in range(n):
        reach = x[i] + w[i] + 3.0 * h[i]
        j = i + 1
        while j < n and x[j] <= reach:
            ratio = h[j] / h[i]
            if 0.7 <= ratio <= 1.43:
                dy = abs(cy[j] - cy[i])
                same_row = dy < 0.45 * h[i] and x[j] - (x[i] + w[i]) < 3.0 * h[i]
                stacked = 0.8 * h[i] < dy < 1.7 * h[i] and x[j] < x[i] + w[i] + 0.5 * h[i]
                if same_row or stacked:
                    parent[find(j)] = find(i)
            j += 1
        # Blobs starting left of i but overlapping it were handled when they were i.
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [_main_rows(b[idx]) for idx in groups.values() if len(idx) >= 4]


def _main_rows(g: np.ndarray) -> np.ndarray:
    """Keep the one or two adjacent rows with the most blobs (drop lamps, stickers above)."""
    cy = g[:, 1] + g[:, 3] / 2
    med_h = float(np.median(g[:, 3]))
    order = np.argsort(cy)
    rows: list[list[int]] = []
    for i in order:
        if rows and cy[i] - cy[rows[-1][-1]] < 0.5 * med_h:
            rows[-1].append(int(i))
        else:
            rows.append([int(i)])
    if len(rows) <= 1:
        return g
    best = max(range(len(rows)), key=lambda r: len(rows[r]))
    keep = list(rows[best])
    for nb in (best - 1, best + 1):
        if 0 <= nb < len(rows) and len(rows[nb]) >= 2:
            gap = abs(np.median(cy[rows[nb]]) - np.median(cy[rows[best]]))
            if gap < 1.7 * med_h:
                keep += rows[nb]
                break
    return g[keep]


class OpenCvLocalizer:
    """Plate candidates by shape, contrast, aspect and colour."""

    def __init__(self, work_width: int = 640, min_plate_px: int = 40) -> None:
        self.work_width = work_width
        self.min_plate_px = min_plate_px

    def _masks(self, small: np.ndarray) -> list[np.ndarray]:
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        grey = cv2.GaussianBlur(grey, (3, 3), 0)
        # Text: strong vertical edges packed together; closing joins a plate's characters.
        gx = cv2.convertScaleAbs(cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3))
        _, edges = cv2.threshold(gx, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        text = cv2.morphologyEx(
            edges, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 5))
        )
        text = cv2.morphologyEx(
            text, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
        )
        # Colour plates: yellow (commercial) and blue (state) backgrounds.
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        yellow = cv2.inRange(hsv, (15, 90, 90), (35, 255, 255))
        blue = cv2.inRange(hsv, (95, 90, 50), (130, 255, 255))
        # Bright plate faces (white plates; also lit plates at night).
        bright = cv2.adaptiveThreshold(
            grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 51, -15
        )
        bright = cv2.morphologyEx(
            bright, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))
        )
        k = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
        return [text, cv2.morphologyEx(yellow, cv2.MORPH_CLOSE, k),
                cv2.morphologyEx(blue, cv2.MORPH_CLOSE, k), bright]  # fmt: skip

    def _from_blobs(self, image: np.ndarray, small: np.ndarray, scale: float) -> list[tuple]:
        """Candidate rotated rects from groups of character blobs (most reliable source)."""
        rects = []
        for boxes in _char_blobs(small):
            for g in _group_blobs(boxes):
                med_h = float(np.median(g[:, 3]))
                pts = np.concatenate(
                    [g[:, :2], g[:, :2] + g[:, 2:4], np.stack([g[:, 0], g[:, 1] + g[:, 3]], 1),
                     np.stack([g[:, 0] + g[:, 2], g[:, 1]], 1)]
                ).astype(np.float32)  # fmt: skip
                (cx, cy), (rw, rh), ang = _norm_rect(cv2.minAreaRect(pts))
                if abs(ang) > 25:
                    continue
                pad = 0.45 * med_h
                rect = ((cx / scale, cy / scale), ((rw + 2 * pad) / scale, (rh + pad) / scale), ang)
                rects.append((rect, min(len(g), 10) / 10))
        return rects

    def locate(self, image: np.ndarray, max_regions: int = 3) -> list[PlateRegion]:
        H, W = image.shape[:2]
        scale = min(1.0, self.work_width / W)
        small = (
            cv2.resize(image, (round(W * scale), round(H * scale)), interpolation=cv2.INTER_AREA)
            if scale < 1
            else image
        )
        min_w = self.min_plate_px * scale
        rects: list[tuple] = []
        for mask in self._masks(small):
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            for c in contours:
                _x, _y, w, h = cv2.boundingRect(c)
                if (
                    w < min_w
                    or h < 0.25 * min_w
                    or w > 0.8 * small.shape[1]
                    or h > 0.8 * small.shape[0]
                ):
                    continue
                rect = cv2.minAreaRect(c)
                (rw, rh) = rect[1]
                long_, short = max(rw, rh), max(1.0, min(rw, rh))
                aspect = long_ / short
                if not 0.9 <= aspect <= 8.5:
                    continue
                fill = cv2.contourArea(c) / max(1.0, rw * rh)
                if fill < 0.45:
                    continue
                rects.append((rect, fill))
        blob_rects = self._from_blobs(image, small, scale)
        scored: list[PlateRegion] = []
        seen: list[BBox] = []
        shape_rects = [
            (((cx / scale, cy / scale), (rw / scale, rh / scale), ang), fill, 0.08)
            for ((cx, cy), (rw, rh), ang), fill in sorted(
                rects, key=lambda r: -r[0][1][0] * r[0][1][1]
            )[:30]
        ]
        candidates = [(r, f + 0.3, 0.0) for r, f in blob_rects] + shape_rects
        for full, fill, margin in candidates:
            bx, by, bw, bh = cv2.boundingRect(cv2.boxPoints(full).astype(np.int32))
            box = (int(bx), int(by), int(bw), int(bh))
            # A candidate over a plate already kept is dropped before its characters are
            # counted (the count is most of the localizer's time; the outcome is the same).
            if any(_iou(box, b) > 0.5 for b in seen):
                continue
            _centre, (rw, rh), _angle = _norm_rect(full)
            if rh > MAX_HEIGHT_TO_WIDTH * rw:
                continue
            region = _warp_rect(image, full, margin=margin)
            n = _char_count(region)
            if n < 4:
                continue
            seen.append(box)
            rh_, rw_ = region.shape[:2]
            score = min(n, 10) / 10 + 0.3 * fill
            scored.append(
                PlateRegion(region, box, _lines_hint(rw_, rh_), plate_colour(region), score)
            )
        scored.sort(key=lambda r: -r.score)
        return scored[:max_regions]

    def refine(self, crop: np.ndarray) -> PlateRegion:
        """The plate inside a crop with margin: its bright face if one stands out, else the crop."""
        H, W = crop.shape[:2]
        whole = PlateRegion(crop, (0, 0, W, H), _lines_hint(W, H), plate_colour(crop), 0.0)
        if H < 24 or W < 24:
            return whole
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        _, face = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        face = cv2.morphologyEx(
            face, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15))
        )
        contours, _ = cv2.findContours(face, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return whole
        c = max(contours, key=cv2.contourArea)
        rect = cv2.minAreaRect(c)
        rw, rh = rect[1]
        if rw * rh < 0.3 * W * H or rw * rh > 0.92 * W * H:
            return whole
        region = _warp_rect(crop, rect, margin=0.03)
        if _char_count(region) < 4:
            return whole
        bx, by, bw, bh = cv2.boundingRect(cv2.boxPoints(rect).astype(np.int32))
        box = (int(bx), int(by), int(bw), int(bh))
        rh_, rw_ = region.shape[:2]
        return PlateRegion(region, box, _lines_hint(rw_, rh_), plate_colour(region), 1.0)


def _iou(a: BBox, b: BBox) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / max(1, aw * ah + bw * bh - inter)
