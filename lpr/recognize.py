"""The recognizer seam: anything that turns tight line crops into per-step CTC probabilities.

The grammar decoder (lpr.decode) searches those probabilities for the best string the plate
syntax admits, so a recognizer never has to produce a final string itself. Keeping the seam
at the probability level lets the stock models (EasyOCR, RapidOCR) and the plate-trained
model be swapped and compared on the same crops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Recognizer(Protocol):
    """Reads line crops.

    ``charset[0]`` is the CTC blank; ``charset[i]`` for ``i >= 1`` is one character (upper case
    letters, digits and optionally ``-`` / ``.`` / space; other characters are ignored by the
    decoder). ``step_probs`` takes tight line crops (BGR or grey ``uint8`` arrays, any size; the
    recognizer resizes them itself) and returns, per line, a ``(T, len(charset))`` float array
    of probabilities (each row sums to about 1).
    """

    name: str
    charset: str  # index 0 = CTC blank

    def step_probs(self, lines: Sequence[np.ndarray]) -> list[np.ndarray]: ...
