"""Recognizer steps -> character slots: the per-character posteriors that lpr.score works on.

A CTC recognizer emits one probability row per horizontal step; a printed character shows as a
short run of steps where "no character" (blank) loses. Cutting the steps into those runs once,
at read time, turns scoring any plate key into a small alignment of the key's characters with
the slots (lpr.score), which costs microseconds, where a CTC forward pass per key would cost
hundreds.

The projection keeps every plate character apart (an `8` read is not a `B`: near-twin plates
differ in exactly such a character); only characters a plate never carries are folded into
the ones they stand for (`O` -> `0`/`D`, `I` -> `1`/`T`), so their mass is not lost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from lpr.grammar import PLATE_CHARS
from lpr.types import SlotEvidence

#: A step is a character (not blank) when its non-blank mass reaches this.
STRONG = 0.5
#: A weaker local peak of non-blank mass is an optional slot (the key may use or skip it).
WEAK = 0.05
#: Floor mixed into each slot's character distribution: the most one substitution costs.
CHAR_FLOOR = 1e-3
#: Smallest probability a recognizer's character counts with when recognizers are pooled.
POOL_FLOOR = 1e-6
#: Bounds of a slot's presence, so both using and skipping it stay finite.
PRESENCE_MIN, PRESENCE_MAX = 1e-3, 1.0 - 1e-3
_SEPARATORS = "-. "
_FOREIGN = {"O": "0D", "Q": "0D", "I": "1T", "J": "1T", "W": "V"}
_COL = {c: i + 1 for i, c in enumerate(PLATE_CHARS)}


@lru_cache(maxsize=32)
def _projection(charset: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows of the charset kept, matrix to blank + PLATE_CHARS columns)."""
    rows = [0]
    weights = [np.eye(1, 1 + len(PLATE_CHARS), 0, dtype=np.float32)[0]]
    for i, ch in enumerate(charset[1:], start=1):
        w = np.zeros(1 + len(PLATE_CHARS), dtype=np.float32)
        up = ch.upper().replace("Đ", "D").replace("đ", "D")
        if ch in _SEPARATORS:
            w[0] = 1.0
        elif up in _COL:
            w[_COL[up]] = 1.0
        elif up in _FOREIGN:
            for target in _FOREIGN[up]:
                w[_COL[target]] = 1.0 / len(_FOREIGN[up])
        if w.any():
            rows.append(i)
            weights.append(w)
    return np.asarray(rows, dtype=np.intp), np.stack(weights)


def plate_columns(probs: np.ndarray, charset: str) -> np.ndarray:
    """(T, len(charset)) probabilities -> (T, 1 + len(PLATE_CHARS)), rows summing to 1."""
    if probs.ndim != 2 or probs.shape[1] != len(charset):
        raise ValueError(f"probabilities {probs.shape} do not match a charset of {len(charset)}")
    rows, matrix = _projection(charset)
    cols = probs[:, rows].astype(np.float64) @ matrix.astype(np.float64)
    total = cols.sum(axis=1, keepdims=True)
    cols = np.where(total > 0, cols / np.where(total > 0, total, 1.0), 0.0)
    cols[total[:, 0] <= 0, 0] = 1.0  # a step with no plate mass at all reads as blank
    return cols


def slots_from_columns(cols: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """Cut (T, 1 + n) plate columns into slots: (presence, character distribution)."""
    nonblank = (1.0 - cols[:, 0]).tolist()  # plain floats: the loop below is per step
    best = cols[:, 1:].argmax(axis=1).tolist()
    steps = cols.shape[0]
    out: list[tuple[float, np.ndarray]] = []
    run_char = -1
    run_mass: np.ndarray | None = None
    run_peak = 0.0
    for t in range(steps):
        nb = nonblank[t]
        c = best[t]
        if nb >= STRONG:
            if run_mass is not None and c == run_char:
                run_mass = run_mass + cols[t, 1:]
                run_peak = max(run_peak, nb)
                continue
            if run_mass is not None:
                out.append((run_peak, run_mass))
            run_char, run_mass, run_peak = c, cols[t, 1:].copy(), nb
            continue
        # A blank-dominated step ends a run: a repeated character needs one between its copies.
        if run_mass is not None:
            closed_char = run_char
            if nb >= WEAK and c == run_char:
                run_mass = run_mass + cols[t, 1:]  # the fading tail of the same character
            out.append((run_peak, run_mass))
            run_mass, run_char = None, -1
            if c == closed_char:
                continue
        prev = nonblank[t - 1] if t > 0 else 0.0
        nxt = nonblank[t + 1] if t + 1 < steps else 0.0
        if nb >= WEAK and nb >= prev and nb > nxt:
            out.append((nb, cols[t, 1:].copy()))  # a faint character, maybe
    if run_mass is not None:
        out.append((run_peak, run_mass))
    return out


def slot_evidence(presence: float, mass: np.ndarray) -> SlotEvidence:
    total = float(mass.sum())
    dist = mass / total if total > 0 else np.full(mass.shape, 1.0 / mass.size)
    dist = (1.0 - CHAR_FLOOR) * dist + CHAR_FLOOR / dist.size
    p = min(PRESENCE_MAX, max(PRESENCE_MIN, presence))
    return SlotEvidence(math.log(p), math.log1p(-p), tuple(float(v) for v in np.log(dist)))


def line_slots(probs: np.ndarray, charset: str) -> list[tuple[float, np.ndarray]]:
    """One recognizer's line: its slots as (presence, normalized character distribution)."""
    out = []
    for presence, mass in slots_from_columns(plate_columns(probs, charset)):
        total = float(mass.sum())
        out.append((presence, mass / total if total > 0 else np.full(mass.shape, 1 / mass.size)))
    return out


def merge_views(
    views: list[list[tuple[float, np.ndarray]]],
) -> tuple[tuple[SlotEvidence, ...], ...]:
    """Several recognizers' slots of one line -> the line's alternatives.

    When every recognizer found the same number of slots they are pooled slot by slot, by the
    normalized geometric mean of their character distributions (the recognizers vote per
    character, and a character one of them rules out stays unlikely: on the dev set this put
    the true plate first more often, and further above its near-twins, than an arithmetic
    mean); otherwise each stays an alternative of its own and the scorer mixes them.
    """
    views = [v for v in views if v]
    if not views:
        return ((),)
    if len({len(v) for v in views}) == 1:
        merged = []
        for i in range(len(views[0])):
            logs = np.log(np.clip(np.stack([v[i][1] for v in views]), POOL_FLOOR, None))
            pooled = np.exp(logs.mean(axis=0) - logs.mean(axis=0).max())
            merged.append(slot_evidence(sum(v[i][0] for v in views) / len(views), pooled))
        return (tuple(merged),)
    return tuple(tuple(slot_evidence(p, d) for p, d in v) for v in views)


def ceiling(lines: Sequence[Sequence[Sequence[SlotEvidence]]]) -> float:
    """Upper bound of any key's log-likelihood on a frame: per line, the best alternative with
    every slot either skipped or given its most likely character."""
    total = 0.0
    for alternatives in lines:
        total += max(
            (sum(max(s.present + max(s.chars), s.absent) for s in slots) for slots in alternatives),
            default=0.0,
        )
    return total


__all__ = [
    "ceiling",
    "line_slots",
    "merge_views",
    "plate_columns",
    "slot_evidence",
    "slots_from_columns",
]
