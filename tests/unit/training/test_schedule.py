"""The recognizer's learning-rate schedule: warm-up, cosine, and the time budget."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from training.train_recognizer import Schedule


def test_warm_up_then_cosine_down_to_two_percent() -> None:
    s = Schedule(lr=1e-3, steps=1000, warm=100)
    assert s.lr_at(0, 0) == pytest.approx(1e-5)
    assert s.lr_at(99, 0) == pytest.approx(1e-3)
    assert s.lr_at(100, 0) == pytest.approx(1e-3)
    assert s.lr_at(550, 0) == pytest.approx(1e-3 * (0.02 + 0.98 * 0.5))
    assert s.lr_at(1000, 0) == pytest.approx(2e-5)
    assert not s.done(999, 0) and s.done(1000, 0)


def test_the_time_budget_ends_the_schedule_early() -> None:
    s = Schedule(lr=1e-3, steps=1000, warm=100, minutes=2.0)
    assert s.progress(200, 60.0) == pytest.approx(0.5)  # half the time before 1/9 of the steps
    assert s.lr_at(200, 120.0) == pytest.approx(2e-5)
    assert s.done(200, 120.0)
    assert not s.done(100, 120.0)  # never during the warm-up
