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
from typing import Any

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
#: others' agreement; a real substitution costs ~4-7 nats per frame, so plates up to three
#: characters off stay above the floor. Kept small, because the floor is also what every other
#: car inside scores: 1,000 of them at 1e-12 weigh 1e-9 against a one-frame read of the true
#: plate, and still under 1e-5 when that read is 9 nats off (a misread the matcher recovers).
OUTLIER = math.log(1e-12)
#: Bottom-line lengths of a two-line plate: 5 digits (123.45) or 4 (1234).
_BOTTOM = (5, 4)
_INDEX = {c: i for i, c in enumerate(PLATE_CHARS)}


def _indexes(key: str) -> list[int]:
    if not all(c in _INDEX for c in key):
        key = plate_key(key)
    return [_INDEX.get(c, -1) for c in key]


def _align(slots: Sequence[SlotEvidence], idx: Sequence[int], stop: float = -math.inf) -> float:
    """Best alignment of key characters `idx` with the slots of one line (log-likelihood).

    Every term is <= 0, so the best cell of a row bounds the result: once it falls below
    `stop` that bound is returned (the caller floors such scores anyway).
    """
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
        top = cur[0]
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
            if best > top:
                top = best
        if top < stop:
            return top
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


def _line(alternatives: Sequence[Sequence[SlotEvidence]], idx: Sequence[int], stop: float) -> float:
    if len(alternatives) == 1:
        return _align(alternatives[0], idx, stop)
    scores = [_align(a, idx, stop) for a in alternatives]
    top = max(scores)
    return top + math.log(sum(math.exp(s - top) for s in scores) / len(scores))


#: Below its floor by this much, a frame's alignment no longer changes its score (exp(-25)).
_NEGLIGIBLE = 25.0


def frame_score(ev: FrameEvidence, idx: Sequence[int]) -> float:
    """log P(frame | key) for one frame: the alignment, floored by the outlier alternative."""
    floor = ev.ceiling + OUTLIER
    s = _frame_alignment(ev, idx, floor - _NEGLIGIBLE)
    if s >= floor:
        return s + math.log1p(math.exp(floor - s))
    return floor + math.log1p(math.exp(s - floor))


def _frame_alignment(ev: FrameEvidence, idx: Sequence[int], stop: float) -> float:
    """A two-line frame tries the key's possible line cuts (4- or 5-digit number)."""
    if not ev.lines:
        return 0.0
    if len(ev.lines) == 1:
        return _line(ev.lines[0], idx, stop)
    top_line, bottom_line = ev.lines[0], ev.lines[1]
    m = len(idx)
    cuts = [m - b for b in _BOTTOM if m - b >= 1] or [m]
    # The cut that fits the slot counts first; another one only when it could still win.
    bounds = sorted(
        ((_bound(top_line, cut) + _bound(bottom_line, m - cut), cut) for cut in cuts), reverse=True
    )
    best = -math.inf
    for bound, cut in bounds:
        if bound <= best or bound < stop:
            break
        top = _line(top_line, idx[:cut], max(stop, best))
        s = top + _line(bottom_line, idx[cut:], max(stop, best) - top)
        if s > best:
            best = s
    return best if best > -math.inf else bounds[0][0]


def score_key(read: PlateRead, key: str) -> float:
    """log-likelihood of plate `key` given the read: per frame, the likelihood of the key under
    the per-character posteriors (each key character aligned with one slot of the recognizer's
    steps; insertions and deletions allowed at a cost); frames combine as independent evidence
    (sum). Always finite; 0.0 for every key when no frame gave a read (no evidence)."""
    idx = _indexes(key)
    return sum(frame_score(ev, idx) for ev in read.evidence)


def score_keys(read: PlateRead, keys: Iterable[str]) -> list[float]:
    """score_key for many keys at once (the same figures to ~1e-9), vectorized over the keys
    with numpy: ~1-3 ms per frame for 1,000 keys, where one-by-one calls cost 10-50 us each."""
    encoded = [_indexes(k) for k in keys]
    if not read.evidence or not encoded:
        return [0.0] * len(encoded)
    import numpy as np

    out = np.zeros(len(encoded))
    by_len: dict[int, list[int]] = {}
    for i, idx in enumerate(encoded):
        by_len.setdefault(len(idx), []).append(i)
    tables: dict[int, list[np.ndarray]] = {}
    for m, rows in by_len.items():
        keys_m = np.array([encoded[i] for i in rows], dtype=np.intp).reshape(len(rows), m)
        total = np.zeros(len(rows))
        for ev in read.evidence:
            total += _frame_batch(ev, keys_m, tables)
        out[rows] = total
    return [float(v) for v in out]


def _frame_batch(ev: FrameEvidence, keys: Any, tables: dict[int, Any]) -> Any:
    import numpy as np

    m = keys.shape[1]
    if not ev.lines:
        s = np.zeros(keys.shape[0])
    elif len(ev.lines) == 1:
        s = _line_batch(ev.lines[0], keys, tables)
    else:
        cuts = [m - b for b in _BOTTOM if m - b >= 1] or [m]
        s = np.max(
            [
                _line_batch(ev.lines[0], keys[:, :cut], tables)
                + _line_batch(ev.lines[1], keys[:, cut:], tables)
                for cut in cuts
            ],
            axis=0,
        )
    return np.logaddexp(s, ev.ceiling + OUTLIER)


def _line_batch(alternatives: Sequence[Sequence[SlotEvidence]], keys: Any, tables: Any) -> Any:
    import numpy as np

    scores = [_align_batch(a, keys, tables) for a in alternatives]
    if len(scores) == 1:
        return scores[0]
    stacked = np.stack(scores)
    top = stacked.max(axis=0)
    return top + np.log(np.exp(stacked - top).mean(axis=0))


def _align_batch(slots: Sequence[SlotEvidence], keys: Any, tables: dict[int, Any]) -> Any:
    """_align for a (K, m) array of key indexes: the same recursion, one slot at a time, the
    deletions as a running maximum."""
    import numpy as np

    k, m = keys.shape
    steps = np.arange(m + 1) * DELETION
    prev = np.broadcast_to(steps, (k, m + 1))
    for s in slots:
        table = tables.get(id(s))
        if table is None:  # the slot's log P(char), FOREIGN last (a key index of -1 hits it)
            table = tables[id(s)] = np.array((*s.chars, FOREIGN))
        cur = np.empty((k, m + 1))
        cur[:, 0] = prev[:, 0] + s.absent
        np.maximum(prev[:, :-1] + (s.present + table[keys]), prev[:, 1:] + s.absent, out=cur[:, 1:])
        prev = np.maximum.accumulate(cur - steps, axis=1) + steps
    return prev[:, m]


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
