"""CRAFT (EasyOCR's text detector) as a last resort on a small plate crop.

CRAFT costs hundreds of milliseconds even on a small image and seconds on a full frame, so it
never runs on the hot path: only when the OpenCV cut gave nothing the grammar admits, and only
on the plate crop scaled down to SIDE pixels.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

SIDE = 320


class CraftLines:
    def __init__(self) -> None:
        from lpr.recognizers.easyocr_en import load_reader

        self._reader: Any = load_reader(detector=True, recognizer=False)

    def lines(self, crop: np.ndarray) -> list[np.ndarray]:
        """Up to two text-line crops (top first) from CRAFT boxes on a downscaled crop."""
        h, w = crop.shape[:2]
        scale = min(1.0, SIDE / max(h, w))
        small = cv2.resize(crop, (max(8, round(w * scale)), max(8, round(h * scale))))
        horizontal, _free = self._reader.detect(
            small, min_size=5, canvas_size=SIDE, width_ths=1.0, add_margin=0.08
        )
        boxes = sorted(horizontal[0] if horizontal else [], key=lambda b: (b[2] + b[3]) / 2)
        boxes = [b for b in boxes if (b[3] - b[2]) >= 0.12 * small.shape[0]]
        # Merge boxes on the same text row, keep the two tallest rows.
        rows: list[list[float]] = []
        for x0, x1, y0, y1 in boxes:
            if rows and abs((y0 + y1) / 2 - (rows[-1][2] + rows[-1][3]) / 2) < 0.5 * (y1 - y0):
                r = rows[-1]
                rows[-1] = [min(r[0], x0), max(r[1], x1), min(r[2], y0), max(r[3], y1)]
            else:
                rows.append([x0, x1, y0, y1])
        rows = sorted(sorted(rows, key=lambda r: r[3] - r[2], reverse=True)[:2], key=lambda r: r[2])
        out = []
        for x0, x1, y0, y1 in rows:
            xa, xb = max(0, int(x0 / scale)), min(w, int(x1 / scale) + 1)
            ya, yb = max(0, int(y0 / scale)), min(h, int(y1 / scale) + 1)
            if xb - xa >= 8 and yb - ya >= 8:
                out.append(crop[ya:yb, xa:xb])
        return out
