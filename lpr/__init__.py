"""Offline Vietnamese plate reading: localize, split lines, recognize, decode under the grammar.

Public API: ``PlateReader(...).read(frames, crop=None) -> PlateRead`` and
``lpr.pool.ReaderPool(workers).read(frames, crop) -> Future[PlateRead]``. A read carries its
n-best ``hypotheses`` and the per-frame ``evidence`` that ``score_key(read, key)`` weighs any
plate against (``background_logprob`` for a plate that is none of them, ``shortlist`` for a
batch). Nothing heavy is imported or loaded until a reader is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lpr.errors import BadImage, LprError, ModelMissing
from lpr.score import background_logprob, score_key, score_keys, shortlist
from lpr.types import Candidate, FrameEvidence, Hypothesis, PlateRead

if TYPE_CHECKING:
    from lpr.reader import PlateReader

__all__ = [
    "BadImage",
    "Candidate",
    "FrameEvidence",
    "Hypothesis",
    "LprError",
    "ModelMissing",
    "PlateRead",
    "PlateReader",
    "background_logprob",
    "score_key",
    "score_keys",
    "shortlist",
]


def __getattr__(name: str) -> Any:
    if name == "PlateReader":
        from lpr.reader import PlateReader

        return PlateReader
    raise AttributeError(name)
