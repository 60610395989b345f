"""Amounts in Vietnamese words: read them back to a number to check TgTTTBChu.

Providers spell the same amount in several accepted ways ("lăm"/"năm", "mốt"/"một", "tư"/"bốn",
"linh"/"lẻ", "nghìn"/"ngàn", "tỷ"/"tỉ", with or without "không trăm", "đồng", "chẵn"), so the
check parses the words instead of comparing with one spelling. num2words (lang="vi") gives the
suggested spelling in error messages.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from num2words import num2words

_DIGITS = {
    "không": 0,
    "một": 1,
    "mốt": 1,
    "hai": 2,
    "ba": 3,
    "bốn": 4,
    "tư": 4,
    "năm": 5,
    "lăm": 5,
    "nhăm": 5,
    "sáu": 6,
    "bảy": 7,
    "bẩy": 7,
    "tám": 8,
    "chín": 9,
}
_SCALES = {
    "nghìn": 1_000,
    "ngàn": 1_000,
    "triệu": 1_000_000,
    "tỷ": 1_000_000_000,
    "tỉ": 1_000_000_000,
}
_NOISE = {"đồng", "chẵn", "vnd", "vnđ", "và"}
_SPLIT = re.compile(r"[\s,.;:/()\-]+")


def spell(amount: int) -> str:
    """The usual spelling, capitalised, with the currency: 'Hai mươi lăm nghìn đồng'."""
    text = num2words(amount, lang="vi") + " đồng"
    return text[0].upper() + text[1:]


def _tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text).lower()
    words = [w for w in _SPLIT.split(text) if w]
    # "việt nam đồng": "năm" of "Việt Nam" is not the digit five.
    cleaned: list[str] = []
    i = 0
    while i < len(words):
        if words[i] == "việt" and i + 1 < len(words) and words[i + 1] == "nam":
            i += 2
            continue
        if words[i] not in _NOISE:
            cleaned.append(words[i])
        i += 1
    return cleaned


@lru_cache(maxsize=4096)  # fares repeat: most texts have been read before
def parse_amount(text: str) -> int | None:
    """The number spelled by ``text``, or None when it is not a Vietnamese amount."""
    tokens = _tokens(text)
    if tokens and tokens[0] == "âm":  # adjusting invoices carry negative totals
        value = parse_amount(" ".join(tokens[1:]))
        return -value if value is not None else None
    if not tokens:
        return None
    total = 0  # value of the completed scale groups
    current = 0  # value below the next scale word
    pending: int | None = None  # a digit waiting for mươi / trăm / a scale
    last_scale = 0
    seen_number = False
    for word in tokens:
        if word in _DIGITS:
            if pending is not None:
                return None
            pending = _DIGITS[word]
            seen_number = True
        elif word == "mười":
            if pending is not None:
                return None
            current += 10
            seen_number = True
        elif word == "mươi":
            if pending is None:
                return None
            current += pending * 10
            pending = None
        elif word == "trăm":
            if pending is None:
                return None
            current += pending * 100
            pending = None
        elif word in ("linh", "lẻ"):
            continue
        elif word in _SCALES:
            scale = _SCALES[word]
            group = current + (pending or 0)
            if group == 0 and not seen_number:
                return None
            if last_scale and scale > last_scale:
                total = (total + group) * scale
            else:
                total += group * scale
            last_scale = scale
            current, pending = 0, None
        else:
            return None
    if not seen_number:
        return None
    return total + current + (pending or 0)


def words_match(text: str | None, amount: int) -> bool:
    return text is not None and parse_amount(text) == amount
