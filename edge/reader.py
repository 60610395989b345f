"""The edge's own plate reader, from gate.toml's ``[reader]``.

The edge reads plates itself (its read travels with the event, and it decides alone when the
center is down), with lpr's reader and policies. On a gate box that reader runs on ONNX
Runtime only: CRAFT, the torch-based last resort, is loaded only when the config asks for it
(and ``parking[easyocr]`` is installed), so the process stays small and starts fast.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from edge.config import ReaderConfig
from gateway.protocol import MAX_EDGE_HYPOTHESES, EdgeHypothesis, EdgeRead

if TYPE_CHECKING:
    from lpr.reader import PlateReader
    from lpr.types import PlateRead


def plate_reader(config: ReaderConfig) -> PlateReader:
    """A warmed-up reader: the first car is read as fast as the next."""
    from lpr.reader import PlateReader

    reader = PlateReader(config.recognizer, craft_fallback=config.craft_fallback)
    reader.warm_up()
    return reader


def edge_read_of(read: PlateRead, reader: str = "") -> EdgeRead | None:
    """The read as it travels with the event: the n-best with probabilities (the hypotheses'
    likelihoods normalised over the n-best, rounded down so they never sum past 1) and the
    read's calibrated confidence. None when nothing was read."""
    if read.text is None or not read.hypotheses:
        return None
    hyps = sorted(read.hypotheses, key=lambda h: h.logprob, reverse=True)[:MAX_EDGE_HYPOTHESES]
    top = hyps[0].logprob
    weights = [math.exp(h.logprob - top) for h in hyps]
    total = sum(weights)
    out: list[EdgeHypothesis] = []
    for h, w in zip(hyps, weights, strict=True):
        if len(h.text) <= 16 and all(o.text != h.text for o in out):
            out.append(EdgeHypothesis(text=h.text, p=math.floor(w / total * 1e4) / 1e4))
    if not out:
        return None
    return EdgeRead(hypotheses=tuple(out), confidence=float(read.confidence), reader=reader[:64])
