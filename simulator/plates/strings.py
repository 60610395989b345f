"""Random plate strings that follow the syntax in shared/docs/vn-plates.md.

The simulator and the recognizer's training data both draw from here, so the mix (long car
plates, square car plates, motorbike plates, old four-digit numbers, two-letter and MD series)
decides what the plate-trained model gets to see. Province codes are weighted towards the
Hanoi and Ho Chi Minh City codes because those dominate real traffic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

Layout = Literal["long", "square", "motorbike"]
Colour = Literal["white", "yellow", "blue"]

LETTERS = "ABCDEFGHKLMNPSTUVXYZ"  # never I, J, O, Q, W; R only where the syntax allows it
MOTO_SERIES_LETTERS = "ABCDEFGHKLMNPRSTUVXYZ"
CAR_SPECIAL_SERIES = ("LD", "KT", "DA", "MK", "HC", "TD", "RM", "R")
SQUARE_SPECIAL_SERIES = ("LD", "KT")
BUSY_PROVINCES = (29, 30, 31, 32, 33, 40, 41, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59)

_PROV = r"(?:1[1-9]|[2-9][0-9])"
_L = "[A-HK-NPS-VXYZ]"
_NUM = r"(?:[0-9]{4}|[0-9]{3}\.[0-9]{2})"
PLATE_PATTERNS: dict[Layout, re.Pattern[str]] = {
    "long": re.compile(rf"^{_PROV}(?:{_L}{{1,2}}|LD|KT|DA|MK|HC|TD|RM|R)-{_NUM}$"),
    "square": re.compile(rf"^{_PROV}(?:{_L}{{1,2}}|LD|KT) {_NUM}$"),
    "motorbike": re.compile(rf"^{_PROV}-(?:[A-HK-NPR-VXYZ][1-9]|{_L}{{2}}|MD[1-9]) {_NUM}$"),
}


@dataclass(frozen=True)
class PlateSpec:
    """What is printed on one plate: canonical text and the physical lines."""

    text: str  # canonical: one line as printed, two lines joined by one space
    layout: Layout
    colour: Colour
    lines: tuple[str, ...]
    dstroke: bool = False  # MD series: the D is printed as Đ (text keeps plain D)

    @property
    def kind(self) -> str:
        return "motorbike" if self.layout == "motorbike" else "car"

    @property
    def key(self) -> str:
        return re.sub(r"[^0-9A-Z]", "", self.text)


def is_valid_plate(text: str, layout: Layout) -> bool:
    return PLATE_PATTERNS[layout].match(text) is not None


def _province(rng: np.random.Generator) -> str:
    if rng.random() < 0.45:
        return str(BUSY_PROVINCES[int(rng.integers(len(BUSY_PROVINCES)))])
    return str(int(rng.integers(11, 100)))


def _letter(rng: np.random.Generator, pool: str = LETTERS) -> str:
    return pool[int(rng.integers(len(pool)))]


def _number(rng: np.random.Generator, p_old: float) -> str:
    digits = "".join(str(int(d)) for d in rng.integers(0, 10, size=5))
    if rng.random() < p_old:
        return digits[:4]
    return f"{digits[:3]}.{digits[3:]}"


def _car_series(rng: np.random.Generator, square: bool) -> str:
    r = rng.random()
    if r < 0.78:
        return _letter(rng)
    if r < 0.92:
        return _letter(rng) + _letter(rng)
    pool = SQUARE_SPECIAL_SERIES if square else CAR_SPECIAL_SERIES
    return pool[int(rng.integers(len(pool)))]


def _moto_series(rng: np.random.Generator) -> tuple[str, bool]:
    r = rng.random()
    if r < 0.8:
        return _letter(rng, MOTO_SERIES_LETTERS) + str(int(rng.integers(1, 10))), False
    if r < 0.92:
        return _letter(rng) + _letter(rng), False
    return "MD" + str(int(rng.integers(1, 10))), True


def _colour(rng: np.random.Generator, layout: Layout) -> Colour:
    r = rng.random()
    p_yellow = 0.05 if layout == "motorbike" else 0.2
    if r < p_yellow:
        return "yellow"
    if r < p_yellow + 0.08:
        return "blue"
    return "white"


def random_spec(
    rng: np.random.Generator, layout: Layout | None = None, colour: Colour | None = None
) -> PlateSpec:
    """A random valid plate; ``layout``/``colour`` fix those choices when given."""
    if layout is None:
        r = rng.random()
        layout = "motorbike" if r < 0.5 else ("long" if r < 0.85 else "square")
    colour = colour or _colour(rng, layout)
    prov = _province(rng)
    if layout == "motorbike":
        series, dstroke = _moto_series(rng)
        top, bottom = f"{prov}-{series}", _number(rng, p_old=0.3)
        return PlateSpec(f"{top} {bottom}", layout, colour, (top, bottom), dstroke)
    series = _car_series(rng, square=layout == "square")
    number = _number(rng, p_old=0.15)
    if layout == "square":
        top = f"{prov}{series}"
        return PlateSpec(f"{top} {number}", layout, colour, (top, number))
    line = f"{prov}{series}-{number}"
    return PlateSpec(line, layout, colour, (line,))


def spec_from_text(text: str, colour: Colour = "white") -> PlateSpec:
    """The spec for a given canonical text (layout chosen by its shape); ValueError if invalid."""
    text = text.strip().upper()
    for layout in ("long", "motorbike", "square"):
        if is_valid_plate(text, layout):
            lines = tuple(text.split(" "))
            dstroke = layout == "motorbike" and "-MD" in lines[0]
            return PlateSpec(text, layout, colour, lines, dstroke)
    raise ValueError(f"not a valid Vietnamese plate text: {text!r}")


#: Characters a reader confuses on real plates, both ways: a near-twin plate differs from
#: another in exactly one of these (the fleet needs such pairs, the matcher must tell them).
CONFUSABLE = (
    ("8", "B"), ("0", "D"), ("1", "7"), ("5", "S"), ("6", "G"), ("M", "N"), ("K", "X"),
    ("2", "Z"), ("4", "A"), ("3", "8"), ("6", "8"), ("0", "8"), ("9", "8"), ("H", "N"),
)  # fmt: skip


def near_twins(spec: PlateSpec) -> list[PlateSpec]:
    """Valid plates of the same layout and colour one confusable character away from ``spec``."""
    swap: dict[str, str] = {}
    for a, b in CONFUSABLE:
        swap[a] = swap.get(a, "") + b
        swap[b] = swap.get(b, "") + a
    out: list[PlateSpec] = []
    for i, ch in enumerate(spec.text):
        for other in swap.get(ch, ""):
            text = spec.text[:i] + other + spec.text[i + 1 :]
            if is_valid_plate(text, spec.layout) and all(t.text != text for t in out):
                dstroke = spec.layout == "motorbike" and "-MD" in text.split(" ")[0]
                out.append(
                    PlateSpec(text, spec.layout, spec.colour, tuple(text.split(" ")), dstroke)
                )
    return out


def fleet(rng: np.random.Generator, n: int, twin_share: float = 0.1) -> list[PlateSpec]:
    """``n`` distinct random plates where about ``twin_share`` of them come in near-twin pairs
    (one confusable character apart, e.g. ``59-K1 026.25`` and ``59-X1 026.25``)."""
    out: list[PlateSpec] = []
    seen: set[str] = set()
    while len(out) < n:
        spec = random_spec(rng)
        if spec.text in seen:
            continue
        seen.add(spec.text)
        out.append(spec)
        if len(out) < n and rng.random() < twin_share / 2:
            twins = [t for t in near_twins(spec) if t.text not in seen]
            if twins:
                twin = twins[int(rng.integers(len(twins)))]
                seen.add(twin.text)
                out.append(twin)
    return out
