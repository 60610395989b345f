"""Seller registration rules, numbering conflicts, fault dice, the error table."""

from __future__ import annotations

from datetime import date

import pytest

from simulator.tax_authority import errors
from simulator.tax_authority.faults import FaultDice, FaultPlan
from simulator.tax_authority.registry import (
    RegisteredSeller,
    RegistrationError,
    number_conflict,
    parse_series_patterns,
)


def test_seller_validation_and_patterns() -> None:
    seller = RegisteredSeller("0101234567", "A", "41849", parse_series_patterns("1/C??MPK, 2/K*"))
    assert seller.allows("1", "C26MPK") and seller.allows("1", "C27MPK")
    assert seller.allows("2", "K26TAB")
    assert not seller.allows("1", "C26TPK") and not seller.allows("2", "C26MPK")
    assert RegisteredSeller("0101234567-001", "B", "AB12C").allows("1", "anything")
    for bad in (
        dict(tax_code="12345", name="A", cash_register_code="41849"),
        dict(tax_code="0101234567", name="A", cash_register_code="4184"),
        dict(tax_code="0101234567", name="A", cash_register_code="ab123"),
        dict(tax_code="0101234567", name=" ", cash_register_code="41849"),
    ):
        with pytest.raises(RegistrationError):
            RegisteredSeller(**bad)  # type: ignore[arg-type]


def test_number_conflicts() -> None:
    accepted = {1: date(2026, 1, 1), 5: date(2026, 1, 3)}
    assert number_conflict(accepted, 5, date(2026, 1, 3)).name == "DUPLICATE_NUMBER"  # type: ignore[union-attr]
    assert number_conflict(accepted, 3, date(2026, 1, 2)) is None  # a gap filled late
    assert number_conflict(accepted, 3, date(2026, 1, 4)).name == "NUMBER_NOT_ASCENDING"  # type: ignore[union-attr]
    assert number_conflict(accepted, 6, date(2026, 1, 2)).name == "NUMBER_NOT_ASCENDING"  # type: ignore[union-attr]
    assert number_conflict(accepted, 6, date(2026, 1, 3)) is None


def test_fault_dice_follow_rates_and_seed() -> None:
    plan = FaultPlan(error_rate=0.2, drop_rate=0.1, drop_after_rate=0.1, seed=3)
    dice = FaultDice(plan)
    actions = [dice.draw().action for _ in range(4000)]
    share = {a: actions.count(a) / len(actions) for a in ("error", "drop", "drop_after", "pass")}
    assert 0.17 < share["error"] < 0.23
    assert 0.08 < share["drop"] < 0.12
    assert 0.08 < share["drop_after"] < 0.12
    assert dice.counts["pass"] == actions.count("pass")
    again = FaultDice(plan)
    assert [again.draw().action for _ in range(4000)] == actions


def test_latency_within_configured_range() -> None:
    dice = FaultDice(FaultPlan(latency_ms=100, latency_jitter_ms=50, seed=1))
    delays = [dice.draw().delay_s for _ in range(200)]
    assert all(0.1 <= d <= 0.15 for d in delays)
    assert max(delays) - min(delays) > 0.03
    assert not FaultPlan().active


def test_error_table_is_documented_and_unique() -> None:
    codes = [e.code for e in errors.all_codes()]
    assert len(codes) == len(set(codes))
    assert set(errors.TECHNICAL_BY_KIND.values()) <= set(codes)
    table = errors.markdown_table()
    assert all(code in table for code in codes)
    for name in (
        "XSD_INVALID",
        "SIGNATURE_INVALID",
        "CERT_MST_MISMATCH",
        "SELLER_NOT_REGISTERED",
        "DUPLICATE_NUMBER",
        "NUMBER_NOT_ASCENDING",
        "TOTALS_WRONG",
        "AMOUNT_IN_WORDS_WRONG",
        "DATE_IN_FUTURE",
        "DATE_TOO_OLD",
        "MALFORMED_XML",
        "TOO_LARGE",
        "UNKNOWN_MESSAGE_TYPE",
    ):
        assert errors.code(name)


def test_readme_documents_every_code() -> None:
    from pathlib import Path

    import simulator.tax_authority as pkg

    readme = (Path(pkg.__file__).parent / "README.md").read_text(encoding="utf-8")
    assert errors.markdown_table() in readme
