"""VND and Asia/Ho_Chi_Minh display."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from gateway.web.formatting import local_date, local_time, percent, vnd
from gateway.web.i18n import LABELS, translator


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (25_000, "25.000 ₫"),
        (0, "0 ₫"),
        (1_234_567, "1.234.567 ₫"),
        (-50_000, "-50.000 ₫"),
        (None, "—"),
    ],
)
def test_vnd(amount: int | None, shown: str) -> None:
    assert vnd(amount) == shown


def test_times_are_shown_in_hanoi() -> None:
    assert local_time(datetime(2026, 11, 23, 19, 30, tzinfo=UTC)) == "24/11/2026 02:30:00"
    other = timezone(timedelta(hours=-5))
    assert local_time(datetime(2026, 1, 1, 0, 0, tzinfo=other), "%H:%M") == "12:00"
    assert local_time("2026-11-23T17:00:00+00:00", "%d/%m %H:%M") == "24/11 00:00"
    assert local_time(None) == "—"
    assert local_date(date(2026, 2, 17)) == "17/02/2026"
    assert percent(0.934) == "93%"


def test_every_label_has_both_languages() -> None:
    for key, (vi, en) in LABELS.items():
        assert vi and en, key
    assert translator("vi")("sign_in") == "Đăng nhập"
    assert translator("en")("sign_in") == "Sign in"
    assert translator("fr")("sign_in") == "Đăng nhập"  # unknown language: Vietnamese
    assert translator("en")("no-such-key") == "no-such-key"
