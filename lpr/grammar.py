"""Vietnamese plate syntax: tables, normalization, canonical text and key.

The same tables drive both the parser (text -> Plate) and the constrained decoder (lpr.decode),
which searches the recognizer's probabilities only over strings these templates admit. See
docs in ../shared/docs/vn-plates.md (Circular 24/2023/TT-BCA for the shapes).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

DIGITS = "0123456789"
NONZERO = "123456789"
#: Series letters: never I, J, O, Q, W; R only for trailers and old motorbike series.
LETTERS = "ABCDEFGHKLMNPSTUVXYZ"
#: First letter of a motorbike letter+digit series: old plates also use R (51-R5 6273).
MOTO_LETTERS = LETTERS + "R"
#: Characters a plate can carry once separators are dropped.
PLATE_CHARS = DIGITS + "ABCDEFGHKLMNPRSTUVXYZ"

#: Province codes in use (11-99 minus the gaps). The syntax admits 11-99; a code outside this
#: set only lowers the confidence, it is never rewritten.
PROVINCES: frozenset[str] = frozenset(
    f"{n:02d}" for n in range(11, 100) if n not in {13, 42, 44, 45, 46, 87, 91, 96}
)
#: Special car series named by the circular (all are also two ordinary letters, except RM).
SPECIAL_SERIES = ("LD", "KT", "DA", "MK", "HC", "TD", "NG", "QT", "NN", "CV", "RM", "R")

Layout = Literal["car", "car_square", "motorbike"]
Kind = Literal["car", "motorbike", "other"]

_D_STROKE = str.maketrans(
    {"Đ": "D", "đ": "D", "Ð": "D", "ð": "D", "–": "-", "—": "-", "‐": "-", "−": "-", "·": "."}
)
_PROV = r"(?P<prov>1[1-9]|[2-9][0-9])"
_L = f"[{LETTERS}]"
_NUM = r"(?P<num>[0-9]{4}|[0-9]{3}\.?[0-9]{2})"
_CAR_SERIES = rf"(?P<series>{_L}{{1,2}}|RM|R)"
_SQUARE_SERIES = rf"(?P<series>{_L}{{1,2}})"
_MOTO_SERIES = rf"(?P<series>[{MOTO_LETTERS}][1-9]|{_L}{{2}}|MD[1-9])"
_PATTERNS: tuple[tuple[Layout, re.Pattern[str]], ...] = (
    ("car", re.compile(rf"^{_PROV}{_CAR_SERIES}-{_NUM}$")),
    ("car_square", re.compile(rf"^{_PROV}{_SQUARE_SERIES} {_NUM}$")),
    ("motorbike", re.compile(rf"^{_PROV}-{_MOTO_SERIES} {_NUM}$")),
)


class PlateSyntaxError(ValueError):
    """The text is not a Vietnamese plate under the syntax tables."""


def normalize(text: str) -> str:
    """Upper case ASCII with the D-stroke written D and runs of blanks collapsed.

    Separators are kept (they tell a long car plate from a square one); everything that is
    neither a plate character nor a separator is dropped.
    """
    text = unicodedata.normalize("NFC", text).translate(_D_STROKE).upper()
    text = re.sub(r"[\s_/|]+", " ", text)
    text = re.sub(r"[^0-9A-Z.\- ]", "", text)
    text = re.sub(r" +", " ", text)
    text = re.sub(r"\s*-\s*", "-", text)
    text = re.sub(r"\s*\.\s*", ".", text)
    return text.strip()


def plate_key(text: str) -> str:
    """Comparison key: separators dropped, so `30A-123.45` (long) and `30A 123.45` match."""
    return re.sub(r"[^0-9A-Z]", "", normalize(text))


def format_number(num: str) -> str:
    """5 digits are printed 3.2, 4 digits as they are."""
    return f"{num[:3]}.{num[3:]}" if len(num) == 5 else num


@dataclass(frozen=True, slots=True)
class Plate:
    province: str
    series: str
    number: str  # digits only, 4 or 5
    layout: Layout

    @property
    def kind(self) -> Kind:
        return "motorbike" if self.layout == "motorbike" else "car"

    @property
    def lines(self) -> int:
        return 1 if self.layout == "car" else 2

    @property
    def text(self) -> str:
        """Canonical text: one line exactly as printed; two lines joined by one space."""
        num = format_number(self.number)
        if self.layout == "car":
            return f"{self.province}{self.series}-{num}"
        if self.layout == "car_square":
            return f"{self.province}{self.series} {num}"
        return f"{self.province}-{self.series} {num}"

    @property
    def key(self) -> str:
        return f"{self.province}{self.series}{self.number}"

    @property
    def province_known(self) -> bool:
        return self.province in PROVINCES


def parse(text: str) -> Plate:
    """Parse canonical (or loosely written) plate text; raise PlateSyntaxError otherwise."""
    norm = normalize(text)
    for layout, pattern in _PATTERNS:
        m = pattern.match(norm)
        if m:
            return Plate(m["prov"], m["series"], m["num"].replace(".", ""), layout)
    raise PlateSyntaxError(f"not a Vietnamese plate: {text!r}")


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except PlateSyntaxError:
        return False
    return True


def from_key(key: str, layout: Layout) -> list[Plate]:
    """Plates of this layout whose key is `key`.

    A key alone can be ambiguous (`29MD12345`: `29-MD 123.45` or `29-MD1 2345`), hence a list.
    """
    key = plate_key(key)
    out: list[Plate] = []
    for cut in range(3, len(key) - 3):
        prov, series, num = key[:2], key[2:cut], key[cut:]
        plate = Plate(prov, series, num, layout)
        if num.isdigit() and is_valid(plate.text) and parse(plate.text) == plate:
            out.append(plate)
    return out


#: Characters a reader confuses on real plates, both ways (a near-twin plate differs from
#: another in one of these): shapes that differ by a stroke or a corner.
CONFUSABLE: tuple[tuple[str, str], ...] = (
    ("8", "B"), ("0", "D"), ("1", "7"), ("5", "S"), ("6", "G"), ("M", "N"), ("K", "X"),
    ("2", "Z"), ("4", "A"), ("3", "8"), ("6", "8"), ("0", "8"), ("9", "8"), ("5", "6"),
    ("H", "N"), ("U", "V"), ("C", "G"), ("E", "F"), ("P", "R"), ("1", "4"), ("Y", "V"),
)  # fmt: skip
_LOOKALIKES: dict[str, str] = {}
for _a, _b in CONFUSABLE:
    _LOOKALIKES[_a] = _LOOKALIKES.get(_a, "") + _b
    _LOOKALIKES[_b] = _LOOKALIKES.get(_b, "") + _a


def twins(text: str) -> list[str]:
    """Valid plates of the same layout one confusable character away from `text` (canonical
    texts, in position order): the plates a misread of `text` is most likely to name."""
    plate = parse(text)
    canonical = plate.text
    out: list[str] = []
    for i, ch in enumerate(canonical):
        for other in _LOOKALIKES.get(ch, ""):
            cand = canonical[:i] + other + canonical[i + 1 :]
            try:
                twin = parse(cand)
            except PlateSyntaxError:
                continue
            if twin.layout == plate.layout and twin.text == cand and cand not in out:
                out.append(cand)
    return out


# --- Templates for constrained decoding -------------------------------------------------
#: A line template is a tuple of allowed-character sets, one per printed character
#: (separators excluded). The decoder only explores prefixes some template admits.
Template = tuple[str, ...]

_PROV_T: Template = (NONZERO, DIGITS)  # 10 is excluded by province_ok()
NUM_TEMPLATES: tuple[Template, ...] = ((DIGITS,) * 4, (DIGITS,) * 5)
CAR_SERIES_T: tuple[Template, ...] = ((LETTERS,), (LETTERS, LETTERS), ("R",), ("R", "M"))
SQUARE_SERIES_T: tuple[Template, ...] = ((LETTERS,), (LETTERS, LETTERS))
MOTO_SERIES_T: tuple[Template, ...] = (
    (MOTO_LETTERS, NONZERO),
    (LETTERS, LETTERS),
    ("M", "D", NONZERO),
)


@dataclass(frozen=True, slots=True)
class LineGrammar:
    """Templates of one printed line and, per template, what it means (layout, field split)."""

    name: str
    templates: tuple[Template, ...]
    #: per template: (layout or None for the bottom number line, series length)
    meaning: tuple[tuple[Layout | None, int], ...]


def _top_line() -> LineGrammar:
    templates: list[Template] = []
    meaning: list[tuple[Layout | None, int]] = []
    for s in MOTO_SERIES_T:
        templates.append(_PROV_T + s)
        meaning.append(("motorbike", len(s)))
    for s in SQUARE_SERIES_T:
        templates.append(_PROV_T + s)
        meaning.append(("car_square", len(s)))
    return LineGrammar("top", tuple(templates), tuple(meaning))


def _one_line() -> LineGrammar:
    templates: list[Template] = []
    meaning: list[tuple[Layout | None, int]] = []
    for s in CAR_SERIES_T:
        for n in NUM_TEMPLATES:
            templates.append(_PROV_T + s + n)
            meaning.append(("car", len(s)))
    return LineGrammar("one", tuple(templates), tuple(meaning))


TOP_LINE = _top_line()
BOTTOM_LINE = LineGrammar("bottom", NUM_TEMPLATES, ((None, 0), (None, 0)))
ONE_LINE = _one_line()


def province_ok(prefix: str) -> bool:
    """The syntax admits provinces 11-99 (the first two characters of every plate)."""
    return len(prefix) < 2 or prefix[:2] != "10"
