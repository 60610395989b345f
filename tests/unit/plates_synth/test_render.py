import cv2
import numpy as np
import pytest

from simulator.plates import (
    FRAME_H,
    FRAME_W,
    render_frame,
    render_passage,
    render_plate,
    spec_from_text,
)


def test_frames_are_deterministic_for_a_seed():
    a = render_frame(np.random.default_rng(42))
    b = render_frame(np.random.default_rng(42))
    c = render_frame(np.random.default_rng(43))
    assert a.text == b.text and a.quad == b.quad and a.bbox == b.bbox
    assert a.jpeg == b.jpeg
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)


def test_frame_is_a_decodable_1280x720_jpeg():
    f = render_frame(np.random.default_rng(1))
    assert f.image.shape == (FRAME_H, FRAME_W, 3)
    assert f.jpeg is not None
    decoded = cv2.imdecode(np.frombuffer(f.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (FRAME_H, FRAME_W, 3)
    assert render_frame(np.random.default_rng(1), encode_jpeg=False).jpeg is None


def _rectified(frame, w=200, h=None):
    spec = frame.spec
    h = h or (int(w * 110 / 520) if spec.layout == "long" else int(w * 140 / 190))
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(np.array(frame.quad, dtype=np.float32), dst)
    return cv2.warpPerspective(frame.image, m, (w, h))


@pytest.mark.parametrize(
    ("text", "colour", "hue_range"),
    [
        ("30A-123.45", "yellow", (15, 40)),
        ("29-B1 678.90", "blue", (95, 130)),
        ("30A 123.45", "yellow", (15, 40)),
    ],
)
def test_plate_is_at_the_returned_quad(text, colour, hue_range):
    spec = spec_from_text(text, colour)
    for seed in range(5):
        f = render_frame(np.random.default_rng(seed), spec, night=False)
        x0, y0, x1, y1 = f.bbox
        q = np.array(f.quad)
        assert 0 <= x0 < x1 <= FRAME_W and 0 <= y0 < y1 <= FRAME_H
        assert (q[:, 0] >= x0 - 1).all() and (q[:, 0] <= x1 + 1).all()
        assert (q[:, 1] >= y0 - 1).all() and (q[:, 1] <= y1 + 1).all()
        plate = _rectified(f)
        inner = plate[plate.shape[0] // 8 : -plate.shape[0] // 8, 10:-10]
        hsv = cv2.cvtColor(inner, cv2.COLOR_BGR2HSV)
        saturated = hsv[..., 1] > 80
        assert saturated.mean() > 0.3, "plate colour not found inside the quad"
        hue = np.median(hsv[..., 0][saturated])
        assert hue_range[0] <= hue <= hue_range[1]


def test_plate_has_ink_where_the_lines_are():
    rng = np.random.default_rng(5)
    p = render_plate(spec_from_text("29-MD1 311.00"), rng, height=140)
    assert p.image.shape[0] == 140
    assert len(p.line_boxes) == 2
    grey = cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY)
    for x0, y0, x1, y1 in p.line_boxes:
        box = grey[int(y0) : int(y1), int(x0) : int(x1)]
        dark = (box < 100).mean()
        assert 0.15 < dark < 0.7
    top_box, bottom_box = p.line_boxes
    assert top_box[3] <= bottom_box[1]  # top line above the bottom line


def test_passage_keeps_one_plate():
    frames = render_passage(np.random.default_rng(3), n=3)
    assert len({f.text for f in frames}) == 1
    assert len({f.bbox for f in frames}) == 3
