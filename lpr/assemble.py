"""Line decodes -> ranked plate candidates (layout, fields, joint log probability)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lpr.decode import LineDecode
from lpr.grammar import BOTTOM_LINE, ONE_LINE, TOP_LINE, LineGrammar, Plate


@dataclass(frozen=True, slots=True)
class ScoredPlate:
    plate: Plate
    logp: float


def grammars_for(n_lines: int) -> tuple[LineGrammar, ...]:
    return (ONE_LINE,) if n_lines == 1 else (TOP_LINE, BOTTOM_LINE)


#: Log-prior against the layout the printed hyphen contradicts: a two-letter top line reads
#: `29-AA` on a motorbike and `50LD` (no hyphen) on a square car plate.
HYPHEN_PRIOR = 2.0


def assemble(
    decodes: list[LineDecode], n_best: int = 8, top_hyphen: float | None = None
) -> list[ScoredPlate]:
    """Join per-line candidates into plates under the syntax; best first.

    top_hyphen: the recognizer's total probability of a `-` on the top line, when known.
    """
    out: list[ScoredPlate] = []
    if len(decodes) == 1:
        for c in decodes[0].candidates:
            layout, n_series = ONE_LINE.meaning[c.template]
            assert layout is not None
            t = c.text
            out.append(
                ScoredPlate(Plate(t[:2], t[2 : 2 + n_series], t[2 + n_series :], layout), c.logp)
            )
    elif len(decodes) == 2:
        for top in decodes[0].candidates:
            layout, _ = TOP_LINE.meaning[top.template]
            assert layout is not None
            prior = 0.0
            if top_hyphen is not None:
                hyphen = top_hyphen >= 0.5
                if (layout == "motorbike") != hyphen:
                    prior = -HYPHEN_PRIOR
            for bottom in decodes[1].candidates:
                plate = Plate(top.text[:2], top.text[2:], bottom.text, layout)
                out.append(ScoredPlate(plate, top.logp + bottom.logp + prior))
    out.sort(key=lambda s: s.logp, reverse=True)
    # The same key can come from two layouts (29-AA vs 29AA): keep the better one.
    seen: set[str] = set()
    unique: list[ScoredPlate] = []
    for s in out:
        if s.plate.key not in seen:
            seen.add(s.plate.key)
            unique.append(s)
    return unique[:n_best]


def posterior(cands: list[ScoredPlate]) -> list[float]:
    """Share of each candidate in the admitted mass the beam kept."""
    if not cands:
        return []
    top = cands[0].logp
    weights = [math.exp(c.logp - top) for c in cands]
    total = sum(weights)
    return [w / total for w in weights]
