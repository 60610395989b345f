"""Closed-world plate matching: which of the cars that can be here is the one the camera saw.

A low-confidence read is not a guess when the lot knows who can be leaving: the plates with an
open session (at an exit) or the registered vehicles (at an entry). Each such plate is a
candidate with an equal share of the prior; an explicit "not inside" alternative (a car that
entered unseen, tailgated, or carries a plate of no candidate) takes the lot's
``match_not_inside_prior``. The reader's evidence gives the log-likelihood of every candidate
key and of "a plate not among them" (the background), and Bayes' rule gives the posteriors.

Pure: no I/O, no lpr (billing does not import it). The reader's evidence arrives through the
:class:`PlateEvidence` protocol; ``gateway.plate_reading`` adapts lpr's read to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from billing.domain.model import DomainError

NOT_INSIDE = "not_inside"


class Hypothesis(Protocol):
    """One entry of a read's n-best list (lpr.Hypothesis has these fields)."""

    @property
    def text(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def logprob(self) -> float: ...


class PlateEvidence(Protocol):
    """What a read knows about every plate: the only view of the reader billing has."""

    @property
    def hypotheses(self) -> Sequence[Hypothesis]:
        """The reader's n-best list, best first."""

    def score(self, key: str) -> float:
        """Log-likelihood of the plate ``key`` given the read (all frames summed)."""

    def background(self) -> float:
        """Log-likelihood of the read under "a plate not among the candidates"."""


@dataclass(frozen=True)
class Ranked:
    key: str
    posterior: float


@dataclass(frozen=True)
class MatchResult:
    """The outcome of matching one read against the candidates (frozen, stored as evidence).

    ``best`` is None when no candidate came near the read; ``auto`` is True when ``best``'s
    posterior reached the lot's threshold, which is the only case the machine settles alone.
    """

    best: str | None
    posterior: float
    runner_up: str | None
    runner_up_posterior: float
    top: tuple[Ranked, ...]  # up to 3 candidates, best first
    not_inside: float  # posterior of "the car is none of the candidates"
    candidates: int  # how many candidates the lot had (before the prefilter)
    scored: int  # how many were scored exactly
    threshold: float
    auto: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "posterior": self.posterior,
            "runner_up": self.runner_up,
            "runner_up_posterior": self.runner_up_posterior,
            "top": [[r.key, r.posterior] for r in self.top],
            "not_inside": self.not_inside,
            "candidates": self.candidates,
            "scored": self.scored,
            "threshold": self.threshold,
            "auto": self.auto,
        }


def _one_indel(longer: str, shorter: str) -> bool:
    """``shorter`` is ``longer`` with one character left out."""
    i = 0
    for i, (a, b) in enumerate(zip(longer, shorter, strict=False)):
        if a != b:
            return longer[i + 1 :] == shorter[i:]
    return True


def near(key: str, hyp: str) -> bool:
    """Within the shortlist's reach: up to two substitutions, or one insertion or deletion."""
    n, m = len(key), len(hyp)
    if n == m:
        return sum(map(str.__ne__, key, hyp)) <= 2
    if n == m + 1:
        return _one_indel(key, hyp)
    if m == n + 1:
        return _one_indel(hyp, key)
    return False


@lru_cache(maxsize=1 << 16)  # a lot's plates come back at every exit: computed once each
def _signatures(key: str) -> frozenset[str]:
    """Exact pieces two :func:`near` keys always share (pigeonhole): of two keys of one length
    with at most two substitutions, one of three thirds is equal; of two keys one indel apart,
    the shorter's first or last half is equal to the longer's."""
    n = len(key)
    a, b = n // 3, 2 * n // 3
    out = [f"s{n}:0:{key[:a]}", f"s{n}:1:{key[a:b]}", f"s{n}:2:{key[b:]}"]
    for m in (n, n - 1):  # this key as the shorter one, and as the longer one
        out.append(f"i{m}:p:{key[: m // 2]}")
        out.append(f"i{m}:s:{key[n - (m - m // 2) :]}")
    return frozenset(out)


def shortlist(candidates: Iterable[str], hypothesis_keys: Sequence[str]) -> list[str]:
    """The candidates worth scoring exactly: :func:`near` one of the read's hypotheses.

    The n-best list already spreads the reader's doubt over the likely characters, so a
    plate farther than this from every hypothesis explains the read no better than any plate
    does; :func:`match` counts it as the background. A shared exact piece
    (:func:`_signatures`) is checked first, so a lot of a thousand cars costs about a
    millisecond.
    """
    hyps = [h for h in dict.fromkeys(hypothesis_keys) if h]
    pieces: set[str] = set()
    for h in hyps:
        pieces.update(_signatures(h))
    return [
        k
        for k in dict.fromkeys(candidates)
        if not pieces.isdisjoint(_signatures(k)) and any(near(k, h) for h in hyps)
    ]


def match(
    shortlisted: Iterable[str],
    total_candidates: int,
    loglik: Callable[[str], float],
    background: float,
    not_inside_prior: float,
    threshold: float,
    rest_loglik: float | None = None,
) -> MatchResult:
    """Posterior of each candidate and of "not inside"; settle alone at ``threshold``.

    ``shortlisted`` are the candidates scored exactly; the other ``total_candidates`` minus
    those keep their share of the prior, each with the log-likelihood ``rest_loglik`` (by
    default the background: a far candidate explains the read no better than any plate). Their
    mass counts against the best, so adding a candidate never raises the best's posterior.
    Every candidate has the prior ``(1 - not_inside_prior) / total_candidates``.
    """
    if not 0.0 < not_inside_prior < 1.0:
        raise DomainError("the not-inside prior is strictly between 0 and 1")
    if not 0.0 < threshold <= 1.0:
        raise DomainError("the match threshold is in (0, 1]")
    keys = list(dict.fromkeys(shortlisted))
    total = max(total_candidates, len(keys))
    if total == 0:
        return MatchResult(None, 0.0, None, 0.0, (), 1.0, 0, 0, threshold, False)
    log_prior = math.log1p(-not_inside_prior) - math.log(total)
    scored = [(k, log_prior + loglik(k)) for k in keys]
    rest = total - len(keys)
    terms = [s for _, s in scored] + [math.log(not_inside_prior) + background]
    if rest:
        far = background if rest_loglik is None else rest_loglik
        terms.append(log_prior + math.log(rest) + far)
    top = max(terms)
    norm = top + math.log(sum(math.exp(t - top) for t in terms))
    ranked = sorted(
        (Ranked(k, math.exp(s - norm)) for k, s in scored), key=lambda r: (-r.posterior, r.key)
    )
    not_inside = math.exp(math.log(not_inside_prior) + background - norm)
    best = ranked[0] if ranked else None
    second = ranked[1] if len(ranked) > 1 else None
    return MatchResult(
        best=best.key if best else None,
        posterior=best.posterior if best else 0.0,
        runner_up=second.key if second else None,
        runner_up_posterior=second.posterior if second else 0.0,
        top=tuple(ranked[:3]),
        not_inside=not_inside,
        candidates=total,
        scored=len(keys),
        threshold=threshold,
        auto=best is not None and best.posterior >= threshold,
    )


def match_evidence(
    evidence: PlateEvidence,
    candidates: Sequence[str],
    not_inside_prior: float,
    threshold: float,
    sample: int = 16,
) -> MatchResult:
    """Shortlist ``candidates`` by the read's hypotheses, then :func:`match` them.

    The candidates left out are not ignored: up to ``sample`` of them (an even spread of the
    sorted keys, so the same lot gives the same figures) are scored exactly, and every one left
    out counts as likely as the best of that sample. Scoring a thousand plates exactly would
    cost the gate its latency; taking them all as likely as the background (any plate at all)
    would cap every posterior near 1 - N * e^prior and send good matches to review.
    """
    hyps = [h.key for h in evidence.hypotheses]
    keys = shortlist(candidates, hyps)
    distinct = sorted(set(candidates))
    chosen = set(keys)
    rest = [k for k in distinct if k not in chosen]
    rest_loglik = None
    if rest:
        step = max(1, len(rest) // sample)
        rest_loglik = max(evidence.score(k) for k in rest[::step][:sample])
    return match(
        keys,
        len(distinct),
        evidence.score,
        evidence.background(),
        not_inside_prior,
        threshold,
        rest_loglik,
    )
