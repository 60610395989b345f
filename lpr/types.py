"""Results of the plate reader (frozen, picklable: they cross the process pool)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["car", "motorbike", "other"]


@dataclass(frozen=True, slots=True)
class Candidate:
    text: str  # canonical
    key: str
    score: float  # share of the vote (0-1)


@dataclass(frozen=True, slots=True)
class PlateRead:
    text: str | None  # canonical plate text, None when nothing admitted was read
    key: str | None  # separators dropped (`30A12345`)
    confidence: float  # 0-1, calibrated on the dev set (see lpr.calibration)
    auto_ok: bool  # confidence at or above the operating threshold: charge without review
    kind: Kind
    lines: int  # 0 when nothing was read
    bbox: tuple[int, int, int, int] | None  # x, y, w, h in the frame the answer came from
    candidates: tuple[Candidate, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    colour: str = "unknown"
    frames: int = 0  # frames that gave an admitted read
    recognizer: str = ""
    bbox_frame: int = -1  # index of the frame ``bbox`` is in (0 = first), -1 when unknown
