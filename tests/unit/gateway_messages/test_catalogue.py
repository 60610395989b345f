"""The message catalogue: every code in both languages with the same parameters, links limited
to a few codes, and every rule billing names has words for people."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gateway import messages
from gateway.auth.phones import display_phone, masked_phone, normalize_phone

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("code", sorted(messages.MESSAGES))
def test_every_message_has_both_languages_with_the_same_parameters(code: str) -> None:
    vi, en = messages.MESSAGES[code]
    assert vi.strip() and en.strip() and vi != en, code
    names = messages.placeholders(code)
    assert names["vi"] == names["en"], code


def test_unknown_codes_and_missing_parameters_never_fail_a_page() -> None:
    assert messages.text("no-such-code", "vi") == messages.MESSAGES[messages.REFUSED][0]
    assert messages.text("amount_range", "en") == "The amount must be from  to ."
    assert (
        messages.text("amount_range", "en", min="1", max="2") == "The amount must be from 1 to 2."
    )
    assert messages.text("code_wait", "fr", seconds=5).startswith("Vui lòng chờ 5")


def test_a_link_chooses_only_among_a_few_codes() -> None:
    assert messages.from_url("payment_done") == "payment_done"
    assert messages.from_url("Tài khoản bị khóa") is None
    assert messages.from_url("forbidden") is None  # in the catalogue, not for links
    assert messages.from_url(None) is None
    assert set(messages.MESSAGES) >= messages.URL_CODES


def _codes_raised_by_billing() -> set[str]:
    """Every code given to DomainError(...) in billing's source."""
    codes: set[str] = set()
    for path in (ROOT / "billing").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "DomainError"
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
            ):
                codes.add(str(node.args[1].value))
    return codes


def test_every_code_billing_raises_has_words_in_the_catalogue() -> None:
    codes = _codes_raised_by_billing()
    assert {"plate_taken", "plate_invalid", "account_closed"} <= codes
    assert codes <= set(messages.MESSAGES), codes - set(messages.MESSAGES)


def test_templates_use_only_catalogue_codes_in_m() -> None:
    used = set()
    for path in (ROOT / "gateway" / "web" / "templates").rglob("*.html"):
        used |= set(re.findall(r"\bm\('([a-z_]+)'", path.read_text(encoding="utf-8")))
    assert used and used <= set(messages.MESSAGES), used - set(messages.MESSAGES)


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("0912 345 678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("+84 912 345 678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("(037) 123-4567", "+84371234567"),
        ("0212345678", None),  # landline prefix
        ("091234567", None),
        ("", None),
        ("driver", None),
    ],
)
def test_phone_numbers_as_people_type_them(typed: str, e164: str | None) -> None:
    assert normalize_phone(typed) == e164


def test_phone_numbers_shown_back() -> None:
    assert display_phone("+84912345678") == "0912 345 678"
    assert masked_phone("+84912345678") == "0912 *** 678"
