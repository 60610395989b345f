"""Tariffs as data and the pricing rule: exact integer VND with a line-by-line explanation.

A tariff file (billing/tariffs/*.toml) is parsed into :class:`Tariff` by :func:`tariff_from_dict`;
the files are versioned by validity dates and chosen by :class:`TariffCatalog`. Pricing rules:

* grace: a stay shorter than ``grace_minutes`` is free; a longer one pays from the first minute.
* blocks: runs of equal blocks (``minutes``, ``price_vnd``, ``count``; the last run may be
  open-ended). The stay is rounded up to the block. Progressive hourly tables, a first hour then
  half hours, and a fixed price per N hours are all block runs.
* per turn: one turn is one price. The stay is cut into 24-hour windows from entry and each
  window pays one turn at the highest price of the day/night periods it touches: 17:00-19:00
  is one turn at the night price, and a night spans midnight, so 22:00-02:00 is one night turn.
  The turn is its own cap ("capped per turn"); a stay over 24 h pays a turn per started 24 h.
* daily cap: with a cap the stay is cut into 24-hour windows from entry; the block table starts
  again in each window and each window pays at most the cap, holiday surcharge included.
* holiday surcharge: a percentage of a window's price when its charged time touches a public
  holiday (local date), rounded up to the 1,000 VND, added before the cap.
* VAT is included in every price, at the rate in force on the local date the stay ends (the
  law's rate, billing.domain.vat: not a tariff's).
* monthly passes (billing.domain.coverage): a ``day_night`` pass covers its whole dates, a
  ``day`` pass the day period (06:00-18:00) of its dates. Only the time no pass covers is
  charged: in each window it is summed and priced as above (blocks counted from its first
  minute, a turn for the periods it touches). Lines at 0 VND show what the passes covered.

Money is integer VND throughout: no float takes part in any price.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from billing.domain import vat
from billing.domain.coverage import PASS_KINDS, PassCover, covered_spans, uncovered
from billing.domain.model import DomainError
from billing.domain.vn import LOCAL_TZ_NAME, local_zone

DAY = timedelta(days=1)
ZERO = timedelta(0)
SECOND = timedelta(seconds=1)
TICK = timedelta(microseconds=1)
DAY_STARTS, NIGHT_STARTS = time(6, 0), time(18, 0)  # the doc's day period (06:00-18:00)
Span = tuple[datetime, datetime]  # [start, end), aware


@dataclass(frozen=True)
class BlockRun:
    minutes: int
    price_vnd: int
    count: int | None = None  # None: open-ended (only the last run)


@dataclass(frozen=True)
class PerTurn:
    day_vnd: int
    night_vnd: int
    day_starts: time = DAY_STARTS
    night_starts: time = NIGHT_STARTS


@dataclass(frozen=True)
class ClassTariff:
    vehicle_class: str
    grace_minutes: int = 0
    blocks: tuple[BlockRun, ...] = ()
    per_turn: PerTurn | None = None
    daily_cap_vnd: int | None = None
    passes: Mapping[str, int] = field(default_factory=dict)  # "day" | "day_night" -> VND/month

    def day_hours(self) -> tuple[time, time]:
        """The day period a ``day`` pass covers: the class's day turn if it has one."""
        if self.per_turn is not None:
            return self.per_turn.day_starts, self.per_turn.night_starts
        return DAY_STARTS, NIGHT_STARTS


@dataclass(frozen=True)
class Tariff:
    id: str
    version: str
    name: str
    valid_from: date
    valid_until: date | None  # inclusive; None: until a newer version starts
    timezone: str
    holiday_surcharge_percent: int
    holidays: frozenset[date]
    classes: Mapping[str, ClassTariff]

    def for_class(self, vehicle_class: str) -> ClassTariff:
        try:
            return self.classes[vehicle_class]
        except KeyError:
            raise DomainError(
                f"tariff {self.id} {self.version} has no prices for {vehicle_class}"
            ) from None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def vat_rate(self, today: date) -> vat.VatRate:
        """The VAT its prices include from the day it applies (today, if in force): the law's
        rate by date, not the tariff's."""
        return vat.rate_on(max(today, self.valid_from))


@dataclass(frozen=True)
class FareLine:
    label: str
    quantity: int
    unit_vnd: int
    amount_vnd: int


@dataclass(frozen=True)
class Fare:
    amount_vnd: int
    vat_vnd: int  # included in amount_vnd
    lines: tuple[FareLine, ...]
    tariff_id: str
    tariff_version: str
    vat_percent: int  # the rate in force on the day the fare is for (billing.domain.vat)

    def explain(self) -> list[dict[str, Any]]:
        return [
            {
                "label": ln.label,
                "quantity": ln.quantity,
                "unit_vnd": ln.unit_vnd,
                "amount_vnd": ln.amount_vnd,
            }
            for ln in self.lines
        ]


def fare_of(tariff: Tariff, lines: Sequence[FareLine], at: datetime) -> Fare:
    """The fare made of ``lines``, with the VAT in force on ``at``'s local date."""
    total = sum(ln.amount_vnd for ln in lines)
    rate = vat.rate_on(at.astimezone(local_zone(tariff.timezone)).date())
    return Fare(
        total,
        vat.split_inclusive(total, rate.percent).vat,
        tuple(lines),
        tariff.id,
        tariff.version,
        rate.percent,
    )


# ---------------------------------------------------------------- blocks


def _block_lines(runs: tuple[BlockRun, ...], seconds: int) -> list[FareLine]:
    lines: list[FareLine] = []
    remaining = seconds
    start_min = 0
    for run in runs:
        if remaining <= 0:
            break
        block_s = run.minutes * 60
        run_s = None if run.count is None else run.count * block_s
        used = remaining if run_s is None else min(remaining, run_s)
        n = -(-used // block_s)  # rounded up to the block, in integers
        end_min = start_min + (run.count * run.minutes if run.count else n * run.minutes)
        label = f"{_hm(start_min)}-{_hm(end_min)}: {run.minutes} min blocks"
        if run.count is None:
            label = f"from {_hm(start_min)}: {run.minutes} min blocks"
        lines.append(FareLine(label, n, run.price_vnd, n * run.price_vnd))
        remaining -= used
        start_min = end_min
    return lines


def _hm(minutes: int) -> str:
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes % 60 else f"{minutes // 60}h"


# ---------------------------------------------------------------- per turn


def _turn_line(pt: PerTurn, tz: tzinfo, gaps: Sequence[Span]) -> FareLine:
    """One turn for the charged parts of a 24-hour window, at the highest price they touch."""
    kinds: set[str] = set()
    for a, b in gaps:
        kinds |= _period_kinds(pt, tz, a, b)
    prices = {"day": pt.day_vnd, "night": pt.night_vnd}
    if len(kinds) == 1:
        (kind,) = kinds
        return FareLine(f"{kind} turn", 1, prices[kind], prices[kind])
    top = max(sorted(kinds), key=prices.__getitem__)
    return FareLine(f"turn over day and night: {top} price", 1, prices[top], prices[top])


def _period_kinds(pt: PerTurn, tz: tzinfo, a: datetime, b: datetime) -> set[str]:
    """The day/night periods ``[a, b)`` (a < b) touches; a night spans midnight."""
    kinds: set[str] = set()
    d = a.astimezone(tz).date() - DAY
    while True:
        day_start = datetime.combine(d, pt.day_starts, tz)
        night_start = datetime.combine(d, pt.night_starts, tz)
        next_day = datetime.combine(d + DAY, pt.day_starts, tz)
        for start, end, kind in ((day_start, night_start, "day"), (night_start, next_day, "night")):
            if start >= b:
                return kinds
            if end > a:
                kinds.add(kind)
        d += DAY


# ---------------------------------------------------------------- pricing


def price_stay(
    tariff: Tariff,
    vehicle_class: str,
    entry: datetime,
    exit_: datetime,
    passes: Iterable[PassCover] = (),
) -> Fare:
    """Price one stay exactly; every VND of the result is on a line.

    ``passes``: the monthly passes the vehicle holds at this lot; each covers only its own
    dates, so the result is the same whether the caller hands over every pass or just those
    that overlap the stay.
    """
    if entry.tzinfo is None or exit_.tzinfo is None:
        raise DomainError("entry and exit times must be timezone-aware")
    if exit_ < entry:
        raise DomainError("exit is before entry")
    ct = tariff.for_class(vehicle_class)
    tz = local_zone(tariff.timezone)
    if _ceil_seconds(exit_ - entry) < ct.grace_minutes * 60:
        return fare_of(tariff, [FareLine(f"grace: under {ct.grace_minutes} min", 1, 0, 0)], exit_)

    held = tuple(passes)
    covered = covered_spans(held, tz, entry, exit_, *ct.day_hours())
    lines = [FareLine(c.label(tz), 1, 0, 0) for c in covered]
    if held and not covered:
        words = " + ".join(sorted({PASS_KINDS[p.kind] for p in held}))
        lines.append(FareLine(f"monthly pass ({words}) covers none of this stay", 1, 0, 0))
    # Per-turn prices and daily caps count 24-hour windows from entry; an uncapped block table
    # runs on over the whole stay.
    by_day = ct.per_turn is not None or ct.daily_cap_vnd is not None
    windows = _windows(entry, exit_) if by_day else [(entry, exit_)]
    for i, (start, end) in enumerate(windows):
        gaps = uncovered(start, end, covered)
        prefix = f"day {i + 1}: " if len(windows) > 1 else ""
        note = "outside the pass: " if gaps != [(start, end)] else ""
        lines += _window_lines(tariff, ct, tz, gaps, prefix, note)
    return fare_of(tariff, lines, exit_)


def _window_lines(
    tariff: Tariff, ct: ClassTariff, tz: tzinfo, gaps: Sequence[Span], prefix: str, note: str
) -> list[FareLine]:
    """The charged parts of one window: turn or blocks, then the holiday surcharge, then the
    cap, which therefore bounds the window's whole price."""
    if not gaps:
        return []
    if ct.per_turn is not None:
        charged = [_turn_line(ct.per_turn, tz, gaps)]
    else:
        charged = _block_lines(ct.blocks, _ceil_seconds(sum((b - a for a, b in gaps), ZERO)))
    lines = [
        FareLine(prefix + note + ln.label, ln.quantity, ln.unit_vnd, ln.amount_vnd)
        for ln in charged
    ]
    total = sum(ln.amount_vnd for ln in lines)
    pct = tariff.holiday_surcharge_percent
    if pct and total and _touches_holiday(tariff, tz, gaps):
        extra = holiday_surcharge(total, pct)
        lines.append(FareLine(f"{prefix}public holiday surcharge {pct}%", 1, extra, extra))
        total += extra
    if ct.daily_cap_vnd is not None and total > ct.daily_cap_vnd:
        cut = ct.daily_cap_vnd - total
        lines.append(FareLine(f"{prefix}daily cap {ct.daily_cap_vnd}", 1, cut, cut))
    return lines


def holiday_surcharge(amount_vnd: int, percent: int) -> int:
    """``percent`` of the amount, rounded up to the 1,000 VND, in integers only."""
    return -(-amount_vnd * percent // 100_000) * 1000


def _windows(entry: datetime, exit_: datetime) -> list[Span]:
    """24-hour windows from entry; the last one may be shorter (one window for a 0 s stay)."""
    n = max(1, -(-(exit_ - entry) // DAY))
    return [(entry + i * DAY, min(entry + (i + 1) * DAY, exit_)) for i in range(n)]


def _ceil_seconds(span: timedelta) -> int:
    return -(-span // SECOND)


def _touches_holiday(tariff: Tariff, tz: tzinfo, gaps: Sequence[Span]) -> bool:
    """Whether a charged part falls on a public holiday (local date)."""
    for a, b in gaps:
        d, last = a.astimezone(tz).date(), max(a, b - TICK).astimezone(tz).date()
        while d <= last:
            if d in tariff.holidays:
                return True
            d += DAY
    return False


# ---------------------------------------------------------------- parsing and catalog


def _time(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


def _int(value: Any, what: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise DomainError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _class_from_dict(name: str, raw: Mapping[str, Any]) -> ClassTariff:
    blocks = tuple(
        BlockRun(
            _int(b["minutes"], f"{name}.blocks.minutes", 1),
            _int(b["price_vnd"], f"{name}.blocks.price_vnd"),
            None if b.get("count") is None else _int(b["count"], f"{name}.blocks.count", 1),
        )
        for b in raw.get("blocks", [])
    )
    if any(b.count is None for b in blocks[:-1]):
        raise DomainError(f"{name}: only the last block run may be open-ended")
    if blocks and blocks[-1].count is not None:
        raise DomainError(f"{name}: the last block run must be open-ended (no count)")
    per_turn = None
    if "per_turn" in raw:
        pt = raw["per_turn"]
        per_turn = PerTurn(
            _int(pt["day_vnd"], f"{name}.per_turn.day_vnd"),
            _int(pt["night_vnd"], f"{name}.per_turn.night_vnd"),
            _time(pt.get("day_starts", "06:00")),
            _time(pt.get("night_starts", "18:00")),
        )
        if not per_turn.day_starts < per_turn.night_starts:
            raise DomainError(f"{name}: day must start before night within a date")
    if (per_turn is None) == (not blocks):
        raise DomainError(f"{name}: give either per_turn or blocks")
    cap = raw.get("daily_cap_vnd")
    passes = {k: _int(v, f"{name}.passes.{k}", 1) for k, v in raw.get("passes", {}).items()}
    if set(passes) - set(PASS_KINDS):
        raise DomainError(f"{name}: pass kinds are 'day' and 'day_night'")
    return ClassTariff(
        vehicle_class=name,
        grace_minutes=_int(raw.get("grace_minutes", 0), f"{name}.grace_minutes"),
        blocks=blocks,
        per_turn=per_turn,
        daily_cap_vnd=None if cap is None else _int(cap, f"{name}.daily_cap_vnd", 1),
        passes=passes,
    )


def tariff_from_dict(raw: Mapping[str, Any]) -> Tariff:
    """Build a tariff from a parsed TOML document; every mistake is a clear DomainError."""
    try:
        until = raw.get("valid_until")
        tariff = Tariff(
            id=str(raw["id"]),
            version=str(raw["version"]),
            name=str(raw.get("name", raw["id"])),
            valid_from=_date(raw["valid_from"]),
            valid_until=None if until is None else _date(until),
            timezone=str(raw.get("timezone", LOCAL_TZ_NAME)),
            holiday_surcharge_percent=_int(raw.get("holiday_surcharge_percent", 0), "surcharge"),
            holidays=frozenset(_date(d) for d in raw.get("holidays", [])),
            classes={k: _class_from_dict(k, v) for k, v in raw["classes"].items()},
        )
    except KeyError as exc:
        raise DomainError(f"tariff is missing {exc.args[0]!r}") from None
    if "vat_percent" in raw:
        raise DomainError(
            "vat_percent is not a tariff's: prices include the VAT rate in force on the day "
            "(billing.domain.vat); remove it from the tariff"
        )
    local_zone(tariff.timezone)
    return tariff


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


class TariffCatalog:
    """All versions of all tariffs; picks the one in force on a local date."""

    def __init__(self, tariffs: Iterable[Tariff]) -> None:
        self._by_id: dict[str, list[Tariff]] = {}
        for t in tariffs:
            self._by_id.setdefault(t.id, []).append(t)
        for tid, versions in self._by_id.items():
            versions.sort(key=lambda t: t.valid_from)
            for a, b in itertools.pairwise(versions):
                if a.valid_until is None or a.valid_until >= b.valid_from:
                    raise DomainError(f"tariff {tid}: versions {a.version} and {b.version} overlap")

    def ids(self) -> list[str]:
        return sorted(self._by_id)

    def versions(self, tariff_id: str) -> list[Tariff]:
        return list(self._by_id.get(tariff_id, []))

    def in_force(self, tariff_id: str, at: datetime) -> Tariff:
        versions = self._by_id.get(tariff_id)
        if not versions:
            raise DomainError(f"no tariff {tariff_id!r}")
        day = at.astimezone(local_zone(versions[0].timezone)).date()
        for t in versions:
            if t.valid_on(day):
                return t
        raise DomainError(f"no version of tariff {tariff_id!r} is valid on {day}")
