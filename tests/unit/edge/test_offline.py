"""Offline decisions and the local credit arithmetic: an allow-listed plate enters, an exit opens
only when the remaining credit covers the lot's maximum fare, and the deductions made against one
allow-list never add up to more than the credit it granted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.allowlist import Allowlist
from edge.offline import COVER_MARGIN_S, CreditLedger, OfflineDecider

NOW = datetime.now(UTC)


def allowlist(credit: int = 120_000, version: int = 1, issued_at: datetime = NOW) -> Allowlist:
    return Allowlist("L1", version, issued_at, 50_000, 200_000, {"30A12345": credit})


@dataclass(frozen=True)
class Read:
    key: str | None
    auto_ok: bool


def decider(
    lst: Allowlist | None, ledger: CreditLedger, read: Read | None = None
) -> OfflineDecider:
    def reader(frames: Sequence[bytes], crop: bytes | None) -> Read:
        if read is None:
            raise ValueError("corrupt JPEG")
        return read

    return OfflineDecider(lambda: lst, ledger, reader, max_age_s=3600)


def test_entry_opens_for_an_allowlisted_plate_only() -> None:
    d = decider(allowlist(credit=0), CreditLedger())
    assert d.propose("entry", "30A12345", "e1").decision.open
    refused = d.propose("entry", "29B11111", "e2")
    assert not refused.decision.open and refused.decision.reason == "not_allowlisted"
    assert "staff" in refused.display


def test_exit_opens_while_the_credit_covers_the_maximum_fare() -> None:
    ledger = CreditLedger()
    d = decider(allowlist(credit=120_000), ledger)
    for i, expected in enumerate([True, True, False]):  # 120k covers two 50k exits, not three
        p = d.propose("exit", "30A12345", f"e{i}")
        assert p.decision.open is expected
        if expected:
            assert p.decision.fare_vnd == 50_000
            assert p.decision.credit_vnd == 120_000 - 50_000 * i
            assert d.commit(p, f"e{i}")
        else:
            assert p.decision.reason == "credit_short" and p.decision.credit_vnd == 20_000
    assert ledger.exposure_vnd() == 100_000


def test_no_list_unreadable_or_stale_list_keeps_closed() -> None:
    assert decider(None, CreditLedger()).propose("entry", "30A12345", "e").decision.reason == (
        "no_allowlist"
    )
    old = allowlist(issued_at=NOW - timedelta(hours=2))
    assert decider(old, CreditLedger()).propose("entry", "30A12345", "e").decision.reason == (
        "no_allowlist"
    )
    assert decider(allowlist(), CreditLedger()).propose("entry", None, "e").decision.reason == (
        "unreadable"
    )


def test_read_key_never_guesses_and_survives_a_corrupt_frame() -> None:
    assert decider(allowlist(), CreditLedger(), Read("30A12345", True)).read_key([b"x"], None) == (
        "30A12345"
    )
    assert decider(allowlist(), CreditLedger(), Read("30A12345", False)).read_key([b"x"], None) is (
        None
    )
    assert decider(allowlist(), CreditLedger(), None).read_key([b"x"], None) is None


def test_spent_credit_comes_back_only_with_a_list_issued_after_the_answer(tmp_path: Path) -> None:
    path = tmp_path / "credit.json"
    ledger = CreditLedger(path)
    first = allowlist(credit=100_000)
    assert ledger.spend(first, "30A12345", "e1", 50_000) == 100_000
    assert CreditLedger(path).remaining(first, "30A12345") == 50_000  # survives a restart
    ledger.answered("e1", at=NOW.timestamp())
    assert ledger.exposure_vnd() == 0
    # A list issued before the answer does not reflect the debit yet: still counted.
    early = allowlist(credit=100_000, version=2, issued_at=NOW)
    assert ledger.new_allowlist(early) == 0
    assert ledger.remaining(early, "30A12345") == 50_000
    later = allowlist(credit=50_000, version=3, issued_at=NOW + timedelta(seconds=COVER_MARGIN_S))
    assert ledger.new_allowlist(later) == 1
    assert ledger.remaining(later, "30A12345") == 50_000


def test_an_unreadable_ledger_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "credit.json"
    path.write_text("{not json")
    with pytest.raises(RuntimeError, match="unreadable"):
        CreditLedger(path)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("spend"), st.integers(0, 5), st.integers(0, 120_000)),
        st.tuples(st.just("answer"), st.integers(0, 30), st.integers(0, 600)),
        st.tuples(st.just("list"), st.integers(0, 300_000), st.integers(0, 600)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(credit=st.integers(0, 300_000), ops=ops)
def test_local_exposure_never_exceeds_the_granted_credit(
    credit: int, ops: list[tuple[str, int, int]]
) -> None:
    """Whatever the order of exits, answers and new lists: the deductions not yet reflected in
    the list in use never add up to more than that list's credit for the plate."""
    ledger = CreditLedger()
    current = allowlist(credit=credit, issued_at=NOW)
    version, n = 1, 0
    for op, a, b in ops:
        if op == "spend":
            n += 1
            before = ledger.spend(current, "30A12345", f"e{n}", b)
            if before is not None:
                assert before >= b
                # right after a deduction, everything not yet reflected fits in the credit
                remaining = ledger.remaining(current, "30A12345")
                assert remaining is not None and remaining >= 0
        elif op == "answer":
            ledger.answered(f"e{a}", at=NOW.timestamp() + b)
        else:
            version += 1
            current = allowlist(credit=a, version=version, issued_at=NOW + timedelta(seconds=b))
            ledger.new_allowlist(current)
            continue  # a smaller new list may leave the remaining credit negative: no spends
        outstanding = sum(
            s.fare_vnd
            for s in ledger.spends()
            if not (
                s.answered_at is not None
                and current.issued_at.timestamp() >= s.answered_at + COVER_MARGIN_S
            )
            and s.version == current.version
        )
        assert outstanding <= current.credits["30A12345"]
        remaining = ledger.remaining(current, "30A12345")
        assert remaining is not None
