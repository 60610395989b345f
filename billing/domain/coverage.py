"""Which parts of a stay the vehicle's monthly passes cover: pure time arithmetic.

A pass is valid on local calendar dates (``valid_from`` to ``valid_until``, both inclusive). On
each of those dates a ``day`` pass covers the day period (06:00-18:00 local unless the class's
tariff says otherwise) and a ``day_night`` pass covers the whole date (00:00-24:00). The pass
covers nothing outside its dates, so a stay that outlives the pass pays for the rest, and passes
bought back to back (renewals) chain: their covered spans meet and merge.

Spans are half-open ``[start, end)`` aware datetimes, clipped to the stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from billing.domain.model import DomainError

DAY = timedelta(days=1)
MIDNIGHT = time(0, 0)
PASS_KINDS = {"day": "day", "day_night": "day and night"}  # kind -> words on a fare line


@dataclass(frozen=True)
class PassCover:
    """A monthly pass the vehicle holds: its kind and the local dates it is valid on.

    ``None`` leaves that side open (a quote "as if holding a pass", or a test).
    """

    kind: str  # "day" | "day_night"
    valid_from: date | None = None
    valid_until: date | None = None

    def __post_init__(self) -> None:
        if self.kind not in PASS_KINDS:
            raise DomainError(f"unknown monthly pass kind {self.kind!r}; known: day, day_night")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise DomainError(f"pass valid until {self.valid_until} before {self.valid_from}")


@dataclass(frozen=True)
class Covered:
    """A span of the stay some passes cover, and which kinds of pass cover it."""

    start: datetime
    end: datetime
    kinds: frozenset[str]

    def label(self, tz: tzinfo) -> str:
        words = " + ".join(PASS_KINDS[k] for k in sorted(self.kinds))
        a, b = self.start.astimezone(tz), self.end.astimezone(tz)
        until = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%d/%m %H:%M}"
        return f"monthly pass ({words}) covers {a:%d/%m %H:%M}-{until}"


def covered_spans(
    passes: Iterable[PassCover],
    tz: tzinfo,
    entry: datetime,
    exit_: datetime,
    day_starts: time,
    day_ends: time,
) -> tuple[Covered, ...]:
    """The merged spans of ``[entry, exit_)`` that the passes cover, in order."""
    first, last = entry.astimezone(tz).date(), exit_.astimezone(tz).date()
    pieces: list[tuple[datetime, datetime, str]] = []
    for p in passes:
        d = first if p.valid_from is None else max(first, p.valid_from)
        until = last if p.valid_until is None else min(last, p.valid_until)
        while d <= until:
            if p.kind == "day_night":
                start = datetime.combine(d, MIDNIGHT, tz)
                end = datetime.combine(d + DAY, MIDNIGHT, tz)
            else:
                start, end = datetime.combine(d, day_starts, tz), datetime.combine(d, day_ends, tz)
            start, end = max(start, entry), min(end, exit_)
            if start < end:
                pieces.append((start, end, p.kind))
            d += DAY
    pieces.sort()
    merged: list[Covered] = []
    for start, end, kind in pieces:
        if merged and start <= merged[-1].end:
            last_span = merged[-1]
            merged[-1] = Covered(last_span.start, max(last_span.end, end), last_span.kinds | {kind})
        else:
            merged.append(Covered(start, end, frozenset({kind})))
    return tuple(merged)


def uncovered(
    start: datetime, end: datetime, covered: Sequence[Covered]
) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` minus the covered spans (sorted, disjoint): the parts that pay."""
    gaps: list[tuple[datetime, datetime]] = []
    cursor = start
    for c in covered:
        if c.end <= cursor:
            continue
        if c.start >= end:
            break
        if c.start > cursor:
            gaps.append((cursor, c.start))
        cursor = max(cursor, c.end)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps
