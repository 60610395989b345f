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
class Hypothesis:
    """One plate the read may be: best first in ``PlateRead.hypotheses``."""

    text: str  # canonical plate text, e.g. "59-K1 026.25"
    key: str  # separators dropped, "59K102625"
    #: log P(read | this plate): the frames' summed log-likelihoods, the same figure
    #: ``lpr.score.score_key(read, key)`` gives (so hypotheses and any other key share one scale)
    logprob: float


@dataclass(frozen=True, slots=True)
class SlotEvidence:
    """One character slot the recognizer's steps show: a peak of non-blank probability."""

    present: float  # log P(the slot holds a printed character)
    absent: float  # log P(it holds none: a spurious peak the key may skip)
    chars: tuple[float, ...]  # log P(character | present), indexed like grammar.PLATE_CHARS


@dataclass(frozen=True, slots=True)
class FrameEvidence:
    """What one frame's recognizers saw, per printed line, in the form the scorer needs.

    ``lines[i]`` holds the alternatives for line i (top line first): one per recognizer that
    read the frame, or one when their slots lined up and were averaged. Plain tuples of
    floats, so a read stays picklable, hashable and cheap to compare.
    """

    lines: tuple[tuple[tuple[SlotEvidence, ...], ...], ...]
    #: log-likelihood of the best string the slots admit, any syntax (an upper bound of every
    #: key's score on this frame): the reference of the frame's outlier floor in lpr.score
    ceiling: float = 0.0


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
    #: n-best plates (up to 8), best first, frames combined by summed log-likelihoods
    hypotheses: tuple[Hypothesis, ...] = ()
    #: per frame that gave a read: the per-character posteriors ``lpr.score`` works on
    evidence: tuple[FrameEvidence, ...] = ()
