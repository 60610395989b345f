"""Decoding under the plate grammar: a CTC prefix beam search that only grows admitted prefixes.

Fixing the recognizer's top string afterwards cannot recover a character it ranked second;
searching the per-step probabilities with the syntax as a constraint can (a narrow `5` read as
`6` at a digit position, an `N` read as `H`...). Every position of a plate has a known class
(digit or series letter), so the search also folds the mass of look-alike characters into the
class the position needs (O->0, B->8, 8->B, ...), as vn-plates.md describes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lpr.grammar import DIGITS, PLATE_CHARS, LineGrammar

#: Column 0 is "no character" (CTC blank plus printed separators); 1.. are PLATE_CHARS.
COLUMNS = PLATE_CHARS
_COL = {c: i + 1 for i, c in enumerate(COLUMNS)}
_SEPARATORS = "-. "
#: Share of a look-alike's mass given to the character the position needs. Below 1 so that a
#: series position that admits both (`B1` vs `BT`) still follows what the recognizer saw.
FOLD_WEIGHT = 0.3
#: look-alike -> plate character, for the class each position requires.
_TO_DIGIT = {"O": "0", "Q": "0", "U": "0", "D": "0", "I": "1", "L": "1", "T": "1", "J": "1",
             "Z": "2", "A": "4", "S": "5", "G": "6", "B": "8"}  # fmt: skip
_TO_LETTER = {"0": "D", "1": "T", "2": "Z", "4": "A", "5": "S", "6": "G", "8": "B",
              "O": "D", "Q": "D", "I": "T", "J": "T", "W": "V"}  # fmt: skip


@lru_cache(maxsize=32)
def _projection(charset: str, fold: bool) -> tuple[np.ndarray, np.ndarray]:
    """The recognizer classes that carry plate characters, and the matrix mapping them to plate
    columns: (row indices, (len(rows), 1 + len(COLUMNS)) matrix).

    Only those rows are kept: a stock recognizer has thousands of classes (RapidOCR's 6,625)
    of which a few dozen matter, and a dense (T, 6625) x (6625, 34) product per line cost more
    than the recognizer itself once BLAS threads compete for two cores.
    """
    rows: list[int] = [0]
    weights: list[np.ndarray] = []
    head = np.zeros(1 + len(COLUMNS), dtype=np.float32)
    head[0] = 1.0
    weights.append(head)
    for i, ch in enumerate(charset[1:], start=1):
        w = np.zeros(1 + len(COLUMNS), dtype=np.float32)
        up = ch.upper().replace("Đ", "D").replace("đ", "D")
        if ch in _SEPARATORS:
            w[0] = 1.0
        else:
            if up in _COL:
                w[_COL[up]] = 1.0
            if fold:
                for table in (_TO_DIGIT, _TO_LETTER):
                    target = table.get(up)
                    if target is not None and target != up:
                        w[_COL[target]] += FOLD_WEIGHT
        if w.any():
            rows.append(i)
            weights.append(w)
    return np.asarray(rows, dtype=np.intp), np.stack(weights)


def to_plate_columns(probs: np.ndarray, charset: str, fold: bool = True) -> np.ndarray:
    """Recognizer probabilities (T, len(charset)) -> plate columns (T, 1 + len(COLUMNS))."""
    if probs.ndim != 2 or probs.shape[1] != len(charset):
        raise ValueError(f"probabilities {probs.shape} do not match a charset of {len(charset)}")
    rows, matrix = _projection(charset, fold)
    return probs[:, rows].astype(np.float32) @ matrix


@dataclass(frozen=True, slots=True)
class LineCandidate:
    text: str  # plate characters only, no separators
    logp: float  # log of the summed CTC probability of all paths giving `text`
    template: int  # index into the grammar's templates


@dataclass(frozen=True, slots=True)
class LineDecode:
    candidates: tuple[LineCandidate, ...]  # best first; empty when nothing admitted survived
    greedy_logp: float  # log probability of the unconstrained best path (a quality reference)
    steps: int


class _Automaton:
    """The grammar's templates as a lazily built DFA over plate characters.

    A state is (templates still alive, position, whether the first digit was 1); it only exists
    while some template admits the prefix, so every beam entry is an admitted prefix.
    """

    def __init__(self, grammar: LineGrammar) -> None:
        self.grammar = grammar
        self._ids: dict[tuple[frozenset[int], int, bool], int] = {}
        self._keys: list[tuple[frozenset[int], int, bool]] = []
        self._edges: list[dict[str, int] | None] = []
        self.final: list[int | None] = []  # per state: template completed here, or None
        self.start = self._state(frozenset(range(len(grammar.templates))), 0, False)

    def _state(self, alive: frozenset[int], pos: int, first1: bool) -> int:
        key = (alive, pos, first1)
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = len(self._keys)
            self._keys.append(key)
            self._edges.append(None)
            done = [i for i in alive if len(self.grammar.templates[i]) == pos]
            self.final.append(min(done) if done else None)
        return sid

    def edges(self, sid: int) -> dict[str, int]:
        edges = self._edges[sid]
        if edges is None:
            alive, pos, first1 = self._keys[sid]
            templates = self.grammar.templates
            by_char: dict[str, set[int]] = {}
            for i in alive:
                if pos < len(templates[i]):
                    for ch in templates[i][pos]:
                        by_char.setdefault(ch, set()).add(i)
            if pos == 1 and first1:
                by_char.pop("0", None)  # provinces run 11-99
            edges = {
                ch: self._state(frozenset(ids), pos + 1, pos == 0 and ch == "1")
                for ch, ids in sorted(by_char.items())
            }
            self._edges[sid] = edges
        return edges


_AUTOMATA: dict[str, _Automaton] = {}


def _automaton(grammar: LineGrammar) -> _Automaton:
    a = _AUTOMATA.get(grammar.name)
    if a is None or a.grammar is not grammar:
        a = _AUTOMATA[grammar.name] = _Automaton(grammar)
    return a


def decode_line(
    cols: np.ndarray,
    grammar: LineGrammar,
    beam: int = 16,
    min_prob: float = 1e-4,
    n_best: int = 8,
) -> LineDecode:
    """Constrained CTC prefix beam search over plate columns (see to_plate_columns)."""
    steps = cols.shape[0]
    greedy = float(np.log(np.clip(cols.max(axis=1), 1e-30, None)).sum())
    auto = _automaton(grammar)
    # beam entry: prefix -> [p ending in blank, p ending in its last char, automaton state]
    beams: dict[str, list] = {"": [1.0, 0.0, auto.start]}
    log_scale = 0.0
    col_index = _COL
    # Plain Python floats, and each step's likely characters found in one numpy pass: the
    # loop below then indexes lists, not numpy scalars (the decoder's time is in this loop).
    rows = cols.tolist()
    likely: list[list[int]] = [[] for _ in range(steps)]
    for t, j in zip(*np.nonzero(cols[:, 1:] >= min_prob), strict=True):
        likely[t].append(int(j))
    for t in range(steps):
        row = rows[t]
        p_blank = row[0]
        active = [(COLUMNS[j], row[j + 1]) for j in likely[t]]
        new: dict[str, list] = {}
        # The admitted extensions depend on the automaton state only, and a beam's prefixes
        # share a few states: each state's (character, probability, next state) list is built
        # once per step, in the order of ``active``.
        admitted: dict[int, list[tuple[str, float, int]]] = {}
        for prefix, (pb, pnb, sid) in beams.items():
            total = pb + pnb
            e = new.get(prefix)
            if e is None:
                e = new[prefix] = [0.0, 0.0, sid]
            e[0] += total * p_blank
            last = prefix[-1] if prefix else ""
            if last:
                e[1] += pnb * row[col_index[last]]
            if not active:
                continue
            exts = admitted.get(sid)
            if exts is None:
                edges = auto.edges(sid)
                exts = admitted[sid] = [
                    (ch, pc, nxt) for ch, pc in active if (nxt := edges.get(ch)) is not None
                ]
            for ch, pc, nxt in exts:
                ext = prefix + ch
                en = new.get(ext)
                if en is None:
                    en = new[ext] = [0.0, 0.0, nxt]
                en[1] += (pb if ch == last else total) * pc
        if len(new) > beam:
            ranked = sorted(new.items(), key=lambda kv: kv[1][0] + kv[1][1], reverse=True)[:beam]
        else:
            ranked = list(new.items())
        top = max(v[0] + v[1] for _, v in ranked) if ranked else 0.0
        if top <= 0.0:
            return LineDecode((), greedy, steps)
        log_scale += math.log(top)
        beams = {k: [v[0] / top, v[1] / top, v[2]] for k, v in ranked}
    out: list[LineCandidate] = []
    for prefix, (pb, pnb, sid) in beams.items():
        done = auto.final[sid]
        if done is not None and pb + pnb > 0:
            out.append(LineCandidate(prefix, math.log(pb + pnb) + log_scale, done))
    out.sort(key=lambda c: c.logp, reverse=True)
    return LineDecode(tuple(out[:n_best]), greedy, steps)


def greedy_text(cols: np.ndarray) -> str:
    """Unconstrained best-path text (for logs and the baseline comparison)."""
    best = cols.argmax(axis=1)
    out: list[str] = []
    prev = 0
    for j in best:
        if j not in (prev, 0):
            out.append(COLUMNS[j - 1])
        prev = int(j)
    return "".join(out)


__all__ = [
    "COLUMNS",
    "DIGITS",
    "LineCandidate",
    "LineDecode",
    "decode_line",
    "greedy_text",
    "to_plate_columns",
]
