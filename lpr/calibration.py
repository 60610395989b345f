"""Confidence calibration: from decoder evidence to a probability that the plate is right.

Fitted for the default reader (plate model + RapidOCR voting on every frame) on 500 dev crops
(bench/lpr.py --fit --limit 500). Checked again with the current pair (plate model of
training/README.md at softmax temperature 2, RapidOCR padded to 224) on all 1,137 dev crops:
97.7 % right; at 0.98, 87.6 % auto-charged and 0.18 % of all plates auto-charged wrongly (0.2 %
of those charged).
Refit when a recognizer changes.

A logistic model on three features of a frame's read, fitted on the real dev set with
``bench/lpr.py --fit`` (which prints the weights below and the threshold table). The operating
threshold is the lowest confidence at which at most 0.5 % of auto-charged dev plates were
wrong, raised for margin: the held-out set is never seen here, and a wrong charge is worse
than a review.
"""

from __future__ import annotations

import math

from lpr.grammar import Plate

#: Auto-charge at or above this confidence.
THRESHOLD = 0.98
#: Logistic weights for (posterior share, grammar gap) and the bias (fitted, see above).
WEIGHTS = (6.964, 2.545)
BIAS = -0.183
#: A province code outside the table is admitted by the syntax but suspicious (`60A` read in
#: a Hanoi lot is probably `30A`): the plate is kept, its confidence is cut, never rewritten.
#: Not fitted: every dev plate has a known code.
UNKNOWN_PROVINCE_FACTOR = 0.5


def features(post: float, gap: float, plate: Plate) -> tuple[float, float, float]:
    """post: share of the best plate among the admitted candidates; gap: log probability of
    the constrained best read minus the unconstrained best path (<= 0 when the grammar had to
    overrule the recognizer); province known (1/0), applied as a factor, not fitted."""
    return (post, max(-20.0, min(0.0, gap)), 1.0 if plate.province_known else 0.0)


def confidence_from(feats: tuple[float, ...]) -> float:
    post, gap, known = feats
    z = BIAS + WEIGHTS[0] * post + WEIGHTS[1] * gap
    conf = 1.0 / (1.0 + math.exp(-z))
    return conf if known else conf * UNKNOWN_PROVINCE_FACTOR


def frame_confidence(post: float, gap: float, plate: Plate) -> float:
    return confidence_from(features(post, gap, plate))


def fit(feats: list[tuple[float, ...]], ok: list[bool], steps: int = 3000) -> tuple[list, float]:
    """Plain logistic regression (Newton steps with a small ridge): weights, bias."""
    import numpy as np

    x = np.hstack([np.asarray(feats, dtype=float), np.ones((len(feats), 1))])
    y = np.asarray(ok, dtype=float)
    w = np.zeros(x.shape[1])
    for _ in range(min(steps, 50)):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) + 1e-2 * w
        hess = (x.T * (p * (1 - p))) @ x + 1e-2 * np.eye(x.shape[1])
        w -= np.linalg.solve(hess, grad)
    return [round(float(v), 3) for v in w[:-1]], round(float(w[-1]), 3)
