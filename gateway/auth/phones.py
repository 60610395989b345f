"""Vietnamese mobile numbers as people type them, and the one form we keep (E.164).

A driver signs up and signs in with their phone number, and codes go to it: "0912 345 678",
"+84 912.345.678" and "84912345678" must all be the same person.
"""

from __future__ import annotations

import re

# Mobile prefixes after the 2018 renumbering: 03x, 05x, 07x, 08x, 09x (then 8 more digits).
_MOBILE = re.compile(r"^0([35789]\d{8})$")


def normalize_phone(text: str | None) -> str | None:
    """``+84xxxxxxxxx`` for a Vietnamese mobile number, else None."""
    if not text:
        return None
    digits = re.sub(r"[\s.\-()]", "", text.strip())
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    match = _MOBILE.match(digits)
    return f"+84{match.group(1)}" if match else None


def display_phone(e164: str) -> str:
    """``0912 345 678``: how the number is printed back to its owner."""
    local = "0" + e164.removeprefix("+84")
    return f"{local[:4]} {local[4:7]} {local[7:]}" if len(local) == 10 else local


def masked_phone(e164: str) -> str:
    """``0912 *** 678``: enough for the owner to recognise, not enough for anyone else."""
    shown = display_phone(e164)
    return f"{shown[:4]} *** {shown[-3:]}" if len(shown) == 12 else shown
