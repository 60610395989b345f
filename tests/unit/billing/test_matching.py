"""Closed-world matching (billing.domain.matching): posteriors, the threshold, the shortlist."""

from __future__ import annotations

import math
import string
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing.domain.matching import match, match_evidence, shortlist
from billing.domain.model import DomainError
from billing.domain.policy import LotPolicy, Outcome

ALPHABET = string.digits + "ABCDEFGHKLMNPSTUVXYZ"
keys = st.text(alphabet=ALPHABET, min_size=7, max_size=9)


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def fake_loglik(read: str, per_edit: float = 6.0) -> Callable[[str], float]:
    """A reader that saw ``read``: each edit away from it costs ``per_edit`` nats."""
    return lambda key: -per_edit * levenshtein(key, read)


@dataclass(frozen=True)
class Hyp:
    text: str
    key: str
    logprob: float


@dataclass(frozen=True)
class FakeEvidence:
    read: str
    hypotheses: tuple[Hyp, ...]
    per_edit: float = 6.0

    def score(self, key: str) -> float:
        return -self.per_edit * levenshtein(key, self.read)

    def background(self) -> float:
        return -self.per_edit * 4


def test_a_lone_close_candidate_settles_and_a_twin_sends_it_to_review() -> None:
    inside = ["59K102625", "30A12345", "51G88888"]
    alone = match(inside, 3, fake_loglik("59X102625"), -24.0, 0.02, 0.999)
    assert alone.best == "59K102625"
    assert alone.auto and alone.posterior >= 0.999
    assert alone.runner_up is not None and alone.runner_up_posterior < 1e-6
    twin = match([*inside, "59X102626"], 4, fake_loglik("59X102625"), -24.0, 0.02, 0.999)
    assert not twin.auto
    assert {r.key for r in twin.top[:2]} == {"59K102625", "59X102626"}
    assert twin.posterior == pytest.approx(0.5, abs=0.01)


def test_nothing_near_the_read_is_not_inside() -> None:
    result = match(["30A12345"], 1, fake_loglik("99Z99999"), -24.0, 0.02, 0.999)
    assert not result.auto
    assert result.not_inside > 0.99


def test_no_candidates_at_all() -> None:
    result = match([], 0, fake_loglik("30A12345"), -24.0, 0.02, 0.999)
    assert result.best is None and not result.auto and result.not_inside == 1.0


def test_bad_priors_and_thresholds_are_refused() -> None:
    with pytest.raises(DomainError):
        match(["30A12345"], 1, fake_loglik("30A12345"), -24.0, 0.0, 0.999)
    with pytest.raises(DomainError):
        match(["30A12345"], 1, fake_loglik("30A12345"), -24.0, 0.02, 1.5)
    with pytest.raises(DomainError):
        LotPolicy(match_threshold=0.4)
    with pytest.raises(DomainError):
        LotPolicy(match_not_inside_prior=1.0)
    with pytest.raises(DomainError):
        LotPolicy.from_dict({"unsure_entry": "charge_flat"})


def test_policy_round_trips_the_matching_fields() -> None:
    p = LotPolicy(match_threshold=0.9995, match_not_inside_prior=0.05, unsure_entry=Outcome.DENY)
    assert LotPolicy.from_dict(p.to_dict()) == p


@settings(max_examples=150, deadline=None)
@given(read=keys, inside=st.lists(keys, min_size=1, max_size=3, unique=True))
def test_posteriors_sum_to_one(read: str, inside: list[str]) -> None:
    result = match(inside, len(inside), fake_loglik(read), -24.0, 0.02, 0.999)
    assert len(result.top) == len(inside)
    assert sum(r.posterior for r in result.top) + result.not_inside == pytest.approx(1.0)
    weights = [math.exp(-6.0 * levenshtein(k, read)) * 0.98 / len(inside) for k in inside]
    evidence = sum(weights) + 0.02 * math.exp(-24.0)
    assert result.posterior == pytest.approx(max(weights) / evidence)


@settings(max_examples=150, deadline=None)
@given(
    read=keys,
    inside=st.lists(keys, min_size=1, max_size=10, unique=True),
    far=st.text(alphabet="QWJ", min_size=7, max_size=9),  # letters no plate has
)
def test_adding_a_far_candidate_never_raises_the_best(
    read: str, inside: list[str], far: str
) -> None:
    before = match(inside, len(inside), fake_loglik(read), -24.0, 0.02, 0.999)
    assert before.best is not None
    assume(levenshtein(far, read) >= levenshtein(before.best, read))  # no nearer than the best
    after = match([*inside, far], len(inside) + 1, fake_loglik(read), -24.0, 0.02, 0.999)
    assert after.posterior <= before.posterior + 1e-12
    assert after.auto <= before.auto


@settings(max_examples=150, deadline=None)
@given(truth=keys, others=st.lists(keys, max_size=8), data=st.data())
def test_a_twin_close_to_the_truth_lowers_the_posterior(
    truth: str, others: list[str], data: st.DataObject
) -> None:
    inside = [k for k in dict.fromkeys(others) if k != truth] + [truth]
    pos = data.draw(st.integers(0, len(truth) - 1))
    char = data.draw(st.sampled_from([c for c in ALPHABET if c != truth[pos]]))
    twin = truth[:pos] + char + truth[pos + 1 :]
    assume(twin not in inside)
    before = match(inside, len(inside), fake_loglik(truth), -24.0, 0.02, 0.999)
    after = match([*inside, twin], len(inside) + 1, fake_loglik(truth), -24.0, 0.02, 0.999)
    assert before.best == after.best == truth
    assert after.posterior < before.posterior
    assert after.runner_up == twin


@settings(max_examples=150, deadline=None)
@given(read=keys, inside=st.lists(keys, min_size=1, max_size=30, unique=True))
def test_the_shortlist_keeps_two_substitutions_or_one_indel(read: str, inside: list[str]) -> None:
    chosen = set(shortlist(inside, [read]))
    for key in inside:
        substitutions = (
            len(key) == len(read) and sum(a != b for a, b in zip(key, read, strict=True)) <= 2
        )
        indel = abs(len(key) - len(read)) == 1 and levenshtein(key, read) == 1
        assert (key in chosen) == (substitutions or indel), key


def test_the_shortlist_does_not_change_the_decision() -> None:
    inside = [f"30A{n:05d}" for n in range(1000)] + ["59K102625"]
    ev = FakeEvidence("59X102625", (Hyp("59X-102.625", "59X102625", -1.0),))
    full = match(inside, len(inside), ev.score, ev.background(), 0.02, 0.999)
    fast = match_evidence(ev, inside, 0.02, 0.999)
    assert fast.scored < 5
    assert (fast.best, fast.auto) == (full.best, full.auto) == ("59K102625", True)
    # the unscored candidates count as the best of a sample of them: about the same figure
    assert fast.posterior == pytest.approx(full.posterior, abs=1e-6)


def test_far_candidates_do_not_cap_the_posterior_of_a_clear_match() -> None:
    """With the background for every unscored car, a thousand cars inside would cap the best
    near 1 - 1000 * e^(background - best); the sampled estimate does not."""
    inside = [f"30A{n:05d}" for n in range(1000)] + ["59K102625"]
    ev = FakeEvidence("59K102625", (Hyp("59K-102.625", "59K102625", -1.0),), per_edit=6.0)
    capped = match(["59K102625"], len(inside), ev.score, -6.0, 0.02, 0.999)
    sampled = match_evidence(ev, inside, 0.02, 0.999)
    assert not capped.auto  # 1000 * e^-6 of "any plate" mass against the best
    assert sampled.auto and sampled.posterior > 0.9999


def test_to_dict_names_best_runner_up_and_top_three() -> None:
    inside = ["59K102625", "59K102626", "59K102627", "30A12345"]
    result = match(inside, 4, fake_loglik("59K102625"), -24.0, 0.02, 0.999)
    stored = result.to_dict()
    assert stored["best"] == "59K102625" and stored["runner_up"] in inside
    assert len(stored["top"]) == 3 and stored["top"][0][0] == "59K102625"
