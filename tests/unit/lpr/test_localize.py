"""The frame localizer: what it offers the recognizers as plate candidates."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lpr.localize import OpenCvLocalizer
from simulator.plates import render_frame


def _column_of_characters(rows: int = 6) -> np.ndarray:
    """A grey frame with a tall white panel of stacked characters (a sign, a pillar's label)."""
    img = np.full((720, 1280, 3), 110, np.uint8)
    x0, y0, w, h = 600, 120, 110, 70 * rows
    cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), (245, 245, 245), -1)
    for i, ch in enumerate("3058A9EK"[:rows]):
        cv2.putText(img, ch + ch, (x0 + 12, y0 + 58 + 70 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.9,
                    (20, 20, 20), 5)  # fmt: skip
    return img


@pytest.mark.parametrize("rows", [2, 3, 5])
def test_a_region_taller_than_wide_is_never_offered_as_a_plate(rows: int) -> None:
    regions = OpenCvLocalizer().locate(_column_of_characters(rows), max_regions=3)
    assert all(r.bbox[2] >= r.bbox[3] for r in regions), [r.bbox for r in regions]


@pytest.mark.parametrize("seed", range(6))
def test_the_rendered_plate_is_among_the_regions(seed: int) -> None:
    f = render_frame(np.random.default_rng(seed), night=False)
    x0, y0, x1, y1 = f.bbox
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    regions = OpenCvLocalizer().locate(f.image, max_regions=2)
    assert any(
        bx <= cx <= bx + bw and by <= cy <= by + bh for bx, by, bw, bh in (r.bbox for r in regions)
    )
