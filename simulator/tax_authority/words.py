"""Amounts in Vietnamese words: read them back to a number to check TgTTTBChu.

Providers spell the same amount in several accepted ways ("lăm"/"năm", "mốt"/"một", "tư"/"bốn",
"linh"/"lẻ", "nghìn"/"ngàn", "tỷ"/"tỉ", with or without "không trăm", "đồng", "chẵn"), so the
check parses the words instead of comparing with one spelling. num2words (lang="vi") gives the
suggested spelling in error messages.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
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
    spelling = _Spelling()
    if not all(spelling.read(word) for word in tokens):
        return None
    return spelling.value()


@dataclass
class _Spelling:
    """The value read so far, one word at a time; ``read`` says False on a word out of place."""

    total: int = 0  # value of the completed scale groups
    current: int = 0  # value below the next scale word
    pending: int | None = None  # a digit waiting for mươi / trăm / a scale
    last_scale: int = 0
    seen_number: bool = False

    def read(self, word: str) -> bool:
        if word in _DIGITS:
            return self._digit(_DIGITS[word])
        if word == "mười":
            return self._ten()
        if word in ("mươi", "trăm"):
            return self._times(10 if word == "mươi" else 100)
        if word in ("linh", "lẻ"):
            return True
        if word in _SCALES:
            return self._scale(_SCALES[word])
        return False

    def value(self) -> int | None:
        if not self.seen_number:
            return None
        return self.total + self.current + (self.pending or 0)

    def _digit(self, digit: int) -> bool:
        if self.pending is not None:
            return False
        self.pending, self.seen_number = digit, True
        return True

    def _ten(self) -> bool:
        if self.pending is not None:
            return False
        self.current += 10
        self.seen_number = True
        return True

    def _times(self, factor: int) -> bool:
        if self.pending is None:
            return False
        self.current += self.pending * factor
        self.pending = None
        return True

    def _scale(self, scale: int) -> bool:
        group = self.current + (self.pending or 0)
        if group == 0 and not self.seen_number:
            return False
        if self.last_scale and scale > self.last_scale:
            self.total = (self.total + group) * scale
        else:
            self.total += group * scale
        self.last_scale = scale
        self.current, self.pending = 0, None
        return True


def words_match(text: str | None, amount: int) -> bool:
    return text is not None and parse_amount(text) == amount
