"""Amounts in Vietnamese words for the invoice's TgTTTBChu.

num2words(lang="vi") reads numbers below one thousand well but joins the groups loosely
(1050 -> "một nghìn lẻ năm mươi", 1005000 -> "một triệu năm nghìn"), so the groups of three
digits are read by num2words and joined here the way accountants write them
("một triệu không trăm năm mươi nghìn").
"""

from __future__ import annotations

from functools import lru_cache

from num2words import num2words

_GROUP_UNITS = ("", "nghìn", "triệu")


def _group(n: int, leading: bool) -> str:
    """Read 1..999; a non-leading group below 100 says its zero hundreds."""
    if leading or n >= 100:
        return str(num2words(n, lang="vi"))
    if n < 10:
        return "không trăm lẻ " + str(num2words(n, lang="vi"))
    return "không trăm " + str(num2words(n, lang="vi"))


def _below_billion(n: int, leading: bool) -> list[str]:
    words: list[str] = []
    for index in (2, 1, 0):
        group = (n // 1000**index) % 1000
        if group:
            words.append(_group(group, leading and not words))
            if _GROUP_UNITS[index]:
                words.append(_GROUP_UNITS[index])
    return words


def _read(n: int, leading: bool = True) -> list[str]:
    if n >= 1_000_000_000:
        high, low = divmod(n, 1_000_000_000)
        words = [*_read(high, leading), "tỷ"]
        if low:
            words.extend(_below_billion(low, leading=False))
        return words
    return _below_billion(n, leading)


def number_in_words(n: int) -> str:
    """Lower-case Vietnamese reading of an integer, e.g. 25000 -> "hai mươi lăm nghìn"."""
    if n == 0:
        return "không"
    if n < 0:
        return "âm " + number_in_words(-n)
    return " ".join(_read(n))


def amount_in_words(vnd: int) -> str:
    """The total as written on an invoice: 25000 -> "Hai mươi lăm nghìn đồng"."""
    if isinstance(vnd, bool) or not isinstance(vnd, int):
        raise TypeError("amounts are integer VND")
    return _amount_in_words(vnd)


@lru_cache(maxsize=4096)  # fares repeat: a tariff has few distinct amounts
def _amount_in_words(vnd: int) -> str:
    text = number_in_words(vnd) + " đồng"
    return text[0].upper() + text[1:]
