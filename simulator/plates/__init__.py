"""Synthetic Vietnamese number plates: strings, flat plates, camera effects, gate frames.

Used by the gate simulator and load tests (``render_frame``) and by ``training/`` to make the
plate recognizer's training data. Nothing here reads the real plate images.
"""

from simulator.plates.frame import (
    FRAME_H,
    FRAME_W,
    HARD_CASES,
    HardCase,
    RenderedFrame,
    render_frame,
    render_passage,
)
from simulator.plates.render import RenderedPlate, render_plate
from simulator.plates.strings import (
    PLATE_PATTERNS,
    PlateSpec,
    fleet,
    is_valid_plate,
    near_twins,
    random_spec,
    spec_from_text,
)

__all__ = [
    "FRAME_H",
    "FRAME_W",
    "HARD_CASES",
    "PLATE_PATTERNS",
    "HardCase",
    "PlateSpec",
    "RenderedFrame",
    "RenderedPlate",
    "fleet",
    "is_valid_plate",
    "near_twins",
    "random_spec",
    "render_frame",
    "render_passage",
    "render_plate",
    "spec_from_text",
]
