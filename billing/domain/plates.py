"""Billing's own plate normaliser: billing may not import lpr, yet must key vehicles by plate.

Canonical text follows docs/vn-plates.md: one line as printed, two lines joined by one space.
Plates compare on the key (letters and digits only), so a long and a square plate match.
"""

from __future__ import annotations

import re

_PROV = r"(?:1[1-9]|[2-9][0-9])"
_L = r"[A-HK-NPS-VXYZ]"
_NUM = r"(?:[0-9]{4}|[0-9]{3}\.[0-9]{2})"
_CAR = re.compile(rf"^{_PROV}(?:{_L}{{1,2}}|LD|KT|DA|MK|HC|TD|RM|R)-{_NUM}$")
_CAR_SQUARE = re.compile(rf"^{_PROV}(?:{_L}{{1,2}}|LD|KT) {_NUM}$")
_MOTO = re.compile(rf"^{_PROV}-(?:[A-HK-NPR-VXYZ][1-9]|{_L}{{2}}|MD[1-9]) {_NUM}$")
_KEY_CAR = re.compile(rf"^({_PROV})((?:{_L}{{1,2}}|LD|KT|DA|MK|HC|TD|RM|R))([0-9]{{4,5}})$")
_KEY_MOTO = re.compile(rf"^({_PROV})([A-HK-NPR-VXYZ][1-9]|MD[1-9])([0-9]{{4,5}})$")


def _clean(text: str) -> str:
    text = text.strip().upper().replace("Đ", "D").replace("đ", "D")
    text = re.sub(r"\s+", " ", text)
    return text.replace("–", "-").replace("_", "-")


def plate_key(text: str) -> str:
    """Letters and digits only: the comparison key of a plate (``30A-123.45`` -> ``30A12345``)."""
    return re.sub(r"[^A-Z0-9]", "", _clean(text))


def is_valid_plate(text: str) -> bool:
    """True when ``text`` is a canonical plate that the Vietnamese syntax allows."""
    cleaned = _clean(text)
    return bool(_CAR.match(cleaned) or _CAR_SQUARE.match(cleaned) or _MOTO.match(cleaned))


def _digits(num: str) -> str:
    return num if len(num) == 4 else f"{num[:3]}.{num[3:]}"


def canonical_plate(text: str) -> str | None:
    """The canonical text of a plate, or None when it is not a valid Vietnamese plate.

    Text already in a valid shape is kept as written (a square car plate stays two lines);
    bare keys are formatted: ``30A12345`` -> ``30A-123.45``, ``29B167890`` -> ``29-B1 678.90``.
    Nothing is guessed: no OCR-style character substitution happens here.
    """
    cleaned = _clean(text)
    if is_valid_plate(cleaned):
        return cleaned
    key = plate_key(cleaned)
    car = _KEY_CAR.match(key)
    moto = _KEY_MOTO.match(key)
    # 30A12345 is a car 30A-123.45 or an old motorbike 30-A1 2345: prefer the common 5-digit car.
    if car and len(car.group(3)) == 5:
        return f"{car.group(1)}{car.group(2)}-{_digits(car.group(3))}"
    if moto:
        return f"{moto.group(1)}-{moto.group(2)} {_digits(moto.group(3))}"
    if car:
        return f"{car.group(1)}{car.group(2)}-{_digits(car.group(3))}"
    return None
