"""VND and Asia/Ho_Chi_Minh display; every label the pages use exists in both languages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from gateway.web.formatting import local_date, local_time, percent, vnd
from gateway.web.i18n import LABELS, reason_labels, translator
from gateway.web.rendering import TEMPLATES_DIR


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


def test_templates_use_only_labelled_keys() -> None:
    """A missing key shows its raw name on the page (``t`` falls back to it): catch that here."""
    used: set[str] = set()
    for path in TEMPLATES_DIR.rglob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_]+)'\)", path.read_text(encoding="utf-8")))
    assert used, "the scan found no labels at all"
    assert sorted(used - set(LABELS)) == []


def test_codes_shown_on_pages_have_labels() -> None:
    """Values the pages translate with a prefix: decision codes, roles, session states, passes."""
    from billing.domain.decisions import Reason
    from billing.tariffs import load_catalog
    from gateway.orm import ROLES

    for lang in ("vi", "en"):
        assert set(reason_labels(lang)) == {r.value for r in Reason}
    assert reason_labels("vi")["plate_unreadable"] == "không đọc được biển số"
    assert reason_labels("en")["exit_without_entry"] == "exit without entry"
    assert {f"role_{r}" for r in ROLES} <= set(LABELS)
    assert {f"session_{s}" for s in ("open", "closed", "void")} <= set(LABELS)
    assert {"charged", "free", "pending", "waived"} <= set(LABELS)  # sessions' payment states
    catalog = load_catalog()
    passes = {
        name
        for tid in catalog.ids()
        for version in catalog.versions(tid)
        for cls in version.classes.values()
        for name in cls.passes
    }
    assert passes and {f"pass_{p}" for p in passes} <= set(LABELS)
