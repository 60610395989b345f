"""The fault checks themselves must be able to fail: numbering gaps, repeats and burned numbers
are counted, and any broken promise makes a report not ok."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from tests.faults.checks import FaultReport, local_days, number_gaps

CLEAN = FaultReport(
    events=4, decisions=4, unanswered=0, passages_missing=0, answers_disagree=0, paid_exits=2,
    double_debits=0, debits_missing=0, trial_balance_vnd=0, invoices=2, invoices_missing=0,
    invoices_extra=0, invoices_not_accepted=0, invoice_amount_wrong=0, number_gaps=0,
    ghost_sessions=0,
)  # fmt: skip


def test_gapless_numbers_have_no_gap() -> None:
    assert number_gaps([3, 1, 2], counter=3) == 0
    assert number_gaps([], counter=None) == 0


def test_missing_repeated_and_burned_numbers_are_counted() -> None:
    assert number_gaps([1, 2, 4], counter=4) == 1  # 3 missing
    assert number_gaps([1, 2, 2, 3], counter=3) == 1  # 2 twice
    assert number_gaps([1, 2], counter=4) == 2  # 3 and 4 taken, never stored
    assert number_gaps([2, 3], counter=3) == 1  # 1 missing


def test_any_broken_promise_makes_the_report_fail() -> None:
    assert CLEAN.ok and CLEAN.problems == []
    for name in (
        "unanswered", "passages_missing", "answers_disagree", "double_debits", "debits_missing",
        "trial_balance_vnd", "invoices_missing", "invoices_extra", "invoices_not_accepted",
        "invoice_amount_wrong", "number_gaps", "ghost_sessions",
    ):  # fmt: skip
        broken = replace(CLEAN, **{name: 1})  # type: ignore[arg-type]
        assert not broken.ok and broken.problems == [f"{name.replace('_', ' ')}: 1"], name
    unreconciled = replace(CLEAN, reconcile=("2026-12-06: invoice_without_fare ...",))
    assert not unreconciled.ok


def test_reconciled_days_run_from_the_first_passage_to_today() -> None:
    days = local_days([datetime(2026, 1, 30, 18, 0, tzinfo=UTC)])  # 31 Jan in Hanoi
    assert days[0] == date(2026, 1, 31) and days == sorted(days) and len(set(days)) == len(days)
