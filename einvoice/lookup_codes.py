"""The code printed on an invoice for looking it up ("mã tra cứu"): random, never a sequence.

Invoice numbers and the authority's codes ascend, so anyone could walk through them and read
other people's names and plates. The lookup code is 50 random bits in Crockford's base 32
(no I, L, O, U), printed in two groups of five (``7KQ2M-X9D4P``); what a person types back is
read leniently (lower case, spaces, dashes, O for 0, I or L for 1).
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 10
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_lookup_code() -> str:
    """Ten symbols of :data:`ALPHABET` from the OS's random source (stored without the dash)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_lookup_code(text: str | None) -> str | None:
    """The stored form of what a person typed, or None when it cannot be a lookup code."""
    cleaned = "".join((text or "").upper().split()).replace("-", "").translate(_READ_AS)
    if len(cleaned) != LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def format_lookup_code(code: str) -> str:
    """As printed: ``7KQ2M-X9D4P``."""
    return f"{code[:5]}-{code[5:]}" if len(code) == LENGTH else code
