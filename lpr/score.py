"""Score any plate key against a read: the likelihood the billing matcher weighs candidates with.

Matching an exit read against the cars inside needs P(read | this car's plate) for plates the
reader may never have ranked (its top read can be one character off). Each frame's evidence is
a short list of character slots per printed line (lpr.evidence); a key is aligned with them,
character by character, where a slot may also be skipped (the recognizer saw a character that
is not there) and a key character may have no slot (it saw nothing), each at a cost. Frames of
one passage are independent evidence: their log-likelihoods add up.

Per call the work is a few dozen float additions per frame (an alignment is only run in full
when the key does not line up with the slots one to one), so scoring the ~1,000 plates inside
a lot takes milliseconds; ``shortlist`` ranks a batch of keys.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence

from lpr.grammar import PLATE_CHARS, plate_key
from lpr.types import FrameEvidence, Hypothesis, PlateRead, SlotEvidence

#: log P(a key character has no slot at all): the recognizer missed a printed character.
DELETION = math.log(1e-3)
#: log P(a character the recognizer cannot even express | a slot) (after plate_key, a key
#: can still hold I, J, O, Q or W, which no plate carries).
FOREIGN = math.log(1e-3 / len(PLATE_CHARS))
#: log of the prior share of one particular plate among the plates that can come to the lot:
#: P(read | some plate not inside) ~ this + the n-best likelihoods (see background_logprob).
#: Vietnam has ~6M cars and ~80M motorbikes, but a lot's catchment is a few provinces and
#: series; exp(-14) ~ one plate in 1.2 million.
PLATE_LOGPRIOR = -14.0
#: log P(a frame is an outlier): a frame of the passage whose plate was not found, or was cut
#: into the wrong lines, reads as garbage. A frame's score for any key is floored at its own
#: ceiling (the best any string could score) plus this, so one such frame cannot outweigh the
#: others' agreement; a real substitution costs ~4-7 nats per frame, well above the floor. Kept
#: small, because the floor is also what every car inside scores on a garbage frame: 1,000 of
#: them at 1e-8 weigh 1e-5 against the true plate of a one-frame read.
OUTLIER = math.log(1e-8)
#: Bottom-line lengths of a two-line plate: 5 digits (123.45) or 4 (1234).
_BOTTOM = (5, 4)
_INDEX = {c: i for i, c in enumerate(PLATE_CHARS)}


def _indexes(key: str) -> list[int]:
    if not all(c in _INDEX for c in key):
        key = plate_key(key)
    return [_INDEX.get(c, -1) for c in key]


def _align(slots: Sequence[SlotEvidence], idx: Sequence[int]) -> float:
    """Best alignment of key characters `idx` with the slots of one line (log-likelihood)."""
    n, m = len(slots), len(idx)
    if n == m and n:
        diagonal = 0.0
        worst_skip = -math.inf
        for s, j in zip(slots, idx, strict=True):
            diagonal += s.present + (s.chars[j] if j >= 0 else FOREIGN)
            if s.absent > worst_skip:
                worst_skip = s.absent
        # Any other path skips a slot and leaves a key character without one: it scores at
        # most (best skip + a deletion), all other terms being <= 0.
        if diagonal >= worst_skip + DELETION:
            return diagonal
    prev = [j * DELETION for j in range(m + 1)]
    for s in slots:
        present, absent, chars = s.present, s.absent, s.chars
        cur = [prev[0] + absent]
        for j in range(1, m + 1):
            c = idx[j - 1]
            best = prev[j - 1] + present + (chars[c] if c >= 0 else FOREIGN)
            skip = prev[j] + absent
            if skip > best:
                best = skip
            dele = cur[j - 1] + DELETION
            if dele > best:
                best = dele
            cur.append(best)
        prev = cur
    return prev[m]


def _bound(alternatives: Sequence[Sequence[SlotEvidence]], m: int) -> float:
    """An upper bound of _line for any key of m characters: what the length mismatch costs."""
    best = -math.inf
    for slots in alternatives:
        n = len(slots)
        if n == m:
            return 0.0
        b = (m - n) * DELETION if m > n else max(s.absent for s in slots)
        if b > best:
            best = b
    return best


def _line(alternatives: Sequence[Sequence[SlotEvidence]], idx: Sequence[int]) -> float:
    if len(alternatives) == 1:
        return _align(alternatives[0], idx)
    scores = [_align(a, idx) for a in alternatives]
    top = max(scores)
    return top + math.log(sum(math.exp(s - top) for s in scores) / len(scores))


def frame_score(ev: FrameEvidence, idx: Sequence[int]) -> float:
    """log P(frame | key) for one frame: the alignment, floored by the outlier alternative."""
    s = _frame_alignment(ev, idx)
    floor = ev.ceiling + OUTLIER
    if s >= floor:
        return s + math.log1p(math.exp(floor - s))
    return floor + math.log1p(math.exp(s - floor))


def _frame_alignment(ev: FrameEvidence, idx: Sequence[int]) -> float:
    """A two-line frame tries the key's possible line cuts."""
    if not ev.lines:
        return 0.0
    if len(ev.lines) == 1:
        return _line(ev.lines[0], idx)
    top_line, bottom_line = ev.lines[0], ev.lines[1]
    m = len(idx)
    cuts = [m - b for b in _BOTTOM if m - b >= 1] or [m]
    if len(cuts) == 1:
        return _line(top_line, idx[:m]) + _line(bottom_line, idx[m:])
    # The cut that fits the slot counts first; another one only when it could still win.
    bounds = sorted(
        ((_bound(top_line, cut) + _bound(bottom_line, m - cut), cut) for cut in cuts), reverse=True
    )
    best = -math.inf
    for bound, cut in bounds:
        if bound <= best:
            break
        s = _line(top_line, idx[:cut]) + _line(bottom_line, idx[cut:])
        if s > best:
            best = s
    return best


def score_key(read: PlateRead, key: str) -> float:
    """log-likelihood of plate `key` given the read: per frame, the likelihood of the key under
    the per-character posteriors (each key character aligned with one slot of the recognizer's
    steps; insertions and deletions allowed at a cost); frames combine as independent evidence
    (sum). Always finite; 0.0 for every key when no frame gave a read (no evidence)."""
    idx = _indexes(key)
    return sum(frame_score(ev, idx) for ev in read.evidence)


def score_keys(read: PlateRead, keys: Iterable[str]) -> list[float]:
    """score_key for many keys (same figures)."""
    evidence = read.evidence
    return [sum(frame_score(ev, idx) for ev in evidence) for idx in map(_indexes, keys)]


def shortlist(read: PlateRead, keys: Iterable[str], k: int = 10) -> list[tuple[str, float]]:
    """The k best-scoring keys (distinct, normalized) with their scores, best first."""
    seen = {plate_key(key) for key in keys}
    return heapq.nlargest(k, zip(seen, score_keys(read, seen), strict=True), key=lambda t: t[1])


def background_logprob(read: PlateRead, log_prior: float = PLATE_LOGPRIOR) -> float:
    """log-likelihood of the read under 'some plate not among the candidates': the plate-prior
    mixture sum_p P(p) P(read | p), with every plate `log_prior` likely and the sum taken over
    the n-best (which hold nearly all of it). What the matcher's 'not inside' alternative uses:
    a car inside one character away from a confident read of another plate does not beat it
    unless the read's evidence for that character is weak."""
    if not read.hypotheses:
        return log_prior
    top = max(h.logprob for h in read.hypotheses)
    return log_prior + top + math.log(sum(math.exp(h.logprob - top) for h in read.hypotheses))


def rank_hypotheses(
    evidence: Sequence[FrameEvidence], plates: Iterable[tuple[str, str]], n: int = 8
) -> tuple[Hypothesis, ...]:
    """(text, key) pairs the decoder proposed -> the n best by summed frame likelihood."""
    out: dict[str, Hypothesis] = {}
    for text, key in plates:
        if key not in out:
            idx = _indexes(key)
            out[key] = Hypothesis(text, key, sum(frame_score(ev, idx) for ev in evidence))
    return tuple(heapq.nlargest(n, out.values(), key=lambda h: h.logprob))


__all__ = [
    "PLATE_LOGPRIOR",
    "background_logprob",
    "frame_score",
    "rank_hypotheses",
    "score_key",
    "score_keys",
    "shortlist",
]
